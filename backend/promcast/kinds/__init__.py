"""One registry of prediction kinds (disk, memory, capacity, anomaly) between the estimators and their
users: ``registry.py`` names each kind, its estimator, options, limits and row fields (and loads
nothing heavy, so the CLI reads it to build its parser); ``report.py`` fits a kind per series for
``promcast predict`` and the Grafana maintenance targets."""
