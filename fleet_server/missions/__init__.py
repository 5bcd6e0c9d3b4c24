"""Server-side mission handling: the lifecycle state machine and its persistence."""
