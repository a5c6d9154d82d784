"""What to do when a real tool a test needs (prometheus, promtool, dask, the shared NAB data) is missing.

A developer without the tool gets a skip that names it and how to install it. CI sets
``PROMCAST_REQUIRE_INTEGRATION=1`` (``.ci/run``): there a missing tool is a failure, so a broken install
can never turn the real-component tests into silent skips.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_ENV = "PROMCAST_REQUIRE_INTEGRATION"


def required() -> bool:
    """True when missing tools must fail the run (CI)."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip with ``reason``, or fail with it when :func:`required`."""
    if required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: a missing tool is a failure here)", pytrace=False)
    pytest.skip(reason)


def unless_present(present: bool, reason: str):
    """A marker: skip when the tool is absent, except where :func:`required` (the test then fails on its own)."""
    return pytest.mark.skipif(not present and not required(), reason=reason)
