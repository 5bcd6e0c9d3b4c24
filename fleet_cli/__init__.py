"""fleet_cli."""
