"""promcast.service."""
