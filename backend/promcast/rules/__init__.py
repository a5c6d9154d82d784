"""promcast.rules."""
