"""The `fleet` command: serve, demo, agent. It sits on top and may import every package."""
