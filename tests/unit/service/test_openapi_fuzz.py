"""A bounded, deterministic schemathesis run against promcast's WSGI app, in process (no network).

The promcast-specific OpenAPI description (``promcast/service/openapi.yaml``: targets, payload keys,
ranges and limits) drives schemathesis' generators; every operation gets a fixed number of valid and
invalid requests with Hypothesis derandomized (same seed, same requests, every run). The run must find
no 5xx and no answer that breaks the description (status code, content type, body schema).

The calls go through schemathesis' WSGI transport: its requests transport trips over urllib3-future
(which some environments install in place of urllib3), and in process nothing leaves the machine.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import promcast.service
from contract.grafana_requests import NOW
from promcast.config import load_settings
from promcast.service.app import create_app
from promcast.sources.demo import DemoSource

SPEC = Path(promcast.service.__file__).with_name("openapi.yaml")
#: requests per operation and generation mode: bounded so `make test` stays quick
EXAMPLES = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

APP = create_app(load_settings(environ={"PROMCAST_MODELS_DEFAULT": "mad"}), source=DemoSource(now=NOW))
schema = schemathesis.openapi.from_dict(yaml.safe_load(SPEC.read_text(encoding="utf-8")))
schema.app = APP  # schemathesis' WSGI transport
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=True,
          suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
def test_no_server_error_and_no_schema_violation(case):
    case.call_and_validate(checks=CHECKS)
