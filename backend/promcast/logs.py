"""Logging set-up shared by every entry point (the CLI, ``serve``, the evaluation workers): one format on
stderr, and the chatty libraries (Prophet's cmdstanpy, TensorFlow, urllib3) kept at warnings."""

from __future__ import annotations

import logging
import sys

NOISY = ("cmdstanpy", "prophet", "matplotlib", "urllib3", "tensorflow", "absl")


def setup_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
