"""JSON Schema validators for the simpod-json-datasource OpenAPI document.

The document (``simpod-json-datasource.openapi.yaml``, a copy of ``../shared/contracts``) is OpenAPI
3.0: its schemas are JSON Schema draft 4 plus ``nullable``, which is rewritten to a ``null`` type.
One erratum of the upstream document is corrected here, and only here: it gives a table's ``rows`` as
a list of strings or numbers, while the plugin and Grafana's ``toDataFrame`` (and the document's own
example) use a list of rows, each a list of cells.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC = Path(__file__).with_name("simpod-json-datasource.openapi.yaml")
SHARED_SPEC = Path(__file__).resolve().parents[3] / "shared" / "contracts" / SPEC.name
URI = "urn:simpod-json-datasource"
JSON = "application/json"


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        return node
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@lru_cache(maxsize=1)
def spec() -> dict:
    document = _nullable(yaml.safe_load(SPEC.read_text(encoding="utf-8")))
    table = document["paths"]["/query"]["post"]["responses"]["200"]["content"][JSON]["schema"]["items"]["anyOf"][1]
    rows = table["properties"]["rows"]
    assert rows["items"] == {"anyOf": [{"type": "string"}, {"type": "number"}]}, "the upstream erratum changed"
    rows["items"] = {"type": "array", "items": copy.deepcopy(rows["items"])}
    return document


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validator(pointer: str) -> Draft4Validator:
    registry = Registry().with_resource(URI, Resource.from_contents(spec(), default_specification=DRAFT4))
    return Draft4Validator({"$ref": URI + pointer}, registry=registry)


def response_validator(path: str, method: str = "post", status: str = "200") -> Draft4Validator:
    return _validator(_pointer("paths", path, method, "responses", status, "content", JSON, "schema"))


def request_validator(path: str, method: str = "post") -> Draft4Validator:
    return _validator(_pointer("paths", path, method, "requestBody", "content", JSON, "schema"))


def errors(validator: Draft4Validator, instance: Any) -> list[str]:
    """Readable validation errors (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
            for e in validator.iter_errors(instance)]
