"""promcast.maintenance."""
