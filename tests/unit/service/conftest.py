"""A Flask test client over the demo source frozen at a fixed "now", with fast models by default."""

from __future__ import annotations

import pytest

from contract.grafana_requests import NOW
from promcast.config import load_settings
from promcast.service.app import create_app
from promcast.sources.demo import DemoSource


@pytest.fixture(scope="session")
def demo() -> DemoSource:
    return DemoSource(now=NOW)


@pytest.fixture
def make_client(demo):
    """``make_client(**env)``: a client whose settings come from PROMCAST_* values (default model mad)."""

    def make(source=None, **env):
        environ = {"PROMCAST_MODELS_DEFAULT": "mad", **{f"PROMCAST_{k.upper()}": str(v) for k, v in env.items()}}
        app = create_app(load_settings(environ=environ), source=source or demo)
        return app.test_client()

    return make


@pytest.fixture
def client(make_client):
    return make_client()
