"""Robot telemetry history: pose and battery sampled at a reduced rate, kept for a while."""
