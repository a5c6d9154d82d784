"""The app over the demo source frozen at a fixed "now", as the contract tests' Grafana talks to it."""

from __future__ import annotations

import pytest

from contract.grafana_requests import NOW
from promcast.config import load_settings
from promcast.service.app import create_app
from promcast.sources.demo import DemoSource


@pytest.fixture(scope="module")
def client():
    settings = load_settings(environ={"PROMCAST_MODELS_DEFAULT": "mad"})
    return create_app(settings, source=DemoSource(now=NOW)).test_client()
