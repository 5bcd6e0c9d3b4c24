"""The operations-centre event feed: outbound webhooks and an optional MQTT bridge."""
