"""promcast.evaluation."""
