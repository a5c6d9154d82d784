"""History sources: Prometheus HTTP API, CSV files and the embedded demo."""

from .base import History, Source, format_labels

__all__ = ["History", "Source", "format_labels"]
