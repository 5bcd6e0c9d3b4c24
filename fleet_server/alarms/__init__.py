"""Alarms: raised from live robot events and order outcomes, stored, listed, acknowledged."""
