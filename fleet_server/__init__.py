"""fleet_server."""
