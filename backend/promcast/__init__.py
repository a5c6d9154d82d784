"""promcast: forecasts, anomaly bands and predictive-maintenance rules for Prometheus and Grafana."""

__version__ = "0.1.0"
