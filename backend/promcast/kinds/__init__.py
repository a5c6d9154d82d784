"""One registry of prediction kinds (disk, memory, capacity, anomaly) between the estimators and their
users: ``registry.py`` names each kind, its estimator, options, parameters and row fields (and loads
nothing heavy, so the CLI reads it to build its parser); ``params.py`` declares a parameter once (key,
type, shared limit, default, help, the front ends that read it) and converts it for the CLI, the
service and the RuleSpec alike; ``report.py`` fits a kind per series for
``promcast predict`` and the Grafana maintenance targets."""
