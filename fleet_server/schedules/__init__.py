"""Recurring missions: schedules with an RFC 5545 recurrence rule in a time zone."""
