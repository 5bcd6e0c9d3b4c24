"""Robot messages in, live fleet state out."""
