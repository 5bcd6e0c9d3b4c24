"""Registered robots: identity, kind, capabilities, site and MQTT credentials."""
