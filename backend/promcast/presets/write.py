"""Write what ``promcast init`` found: the RuleSpec (validated before it is written) and the dashboards that fit."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import yaml

from ..atomic import atomic_write_bytes
from ..dashboards import dashboards_dir
from ..errors import InputError
from ..rules.spec import API_VERSION, KIND, parse_spec
from ..rules.write import refuse_overwriting
from .catalogue import DASHBOARDS

SPEC_FILE = "promcast-rules.yaml"
DASHBOARDS_DIR = "dashboards"
SPEC_NAME = "promcast-presets"


def spec_document(targets: Sequence[Mapping], source: Mapping) -> dict:
    """The RuleSpec as plain data: ``source`` (prometheus_url or demo), the targets in preset order."""
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": SPEC_NAME},
            "source": {**source, "history": "14d", "step": "5m"}, "defaults": {"for": "10m"},
            "targets": [dict(t) for t in targets]}


def render_spec(document: Mapping, header: Sequence[str]) -> str:
    """YAML with a comment header; validated by the RuleSpec parser, so a bad preset fails here, not later."""
    parse_spec(document, origin=SPEC_FILE, file_name=SPEC_FILE)
    body = yaml.safe_dump(dict(document), sort_keys=False, width=110, default_flow_style=False)
    return "".join(f"# {line}\n" if line else "#\n" for line in header) + body


def fitting_dashboards(targets: Sequence[Mapping]) -> list[str]:
    """The shipped dashboards that show at least one of the written targets' kinds."""
    kinds = {t["kind"] for t in targets}
    return [name for name, shows in DASHBOARDS.items() if kinds & set(shows)]


def write_output(directory: str | Path, spec_text: str, dashboards: Sequence[str], *,
                 force: bool = False) -> list[Path]:
    """``DIR/promcast-rules.yaml`` and ``DIR/dashboards/*.json``, each written atomically; a file there
    with other content (edited since an earlier run) is an error before anything is written, unless
    ``force``."""
    out = Path(directory)
    contents = {out / SPEC_FILE: spec_text.encode()}
    contents.update({out / DASHBOARDS_DIR / name: (dashboards_dir() / name).read_bytes() for name in dashboards})
    if not force:
        refuse_overwriting([str(path) for path, data in contents.items() if _differs(path, data)],
                           "changed since promcast init wrote it (or written by another run)")
    try:
        (out / DASHBOARDS_DIR if dashboards else out).mkdir(parents=True, exist_ok=True)
        for target, data in contents.items():  # the spec first
            atomic_write_bytes(target, data)
    except OSError as exc:
        raise InputError(f"cannot write to {out}: {exc.strerror or exc}") from exc
    return list(contents)


def _differs(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a file with content other than ``data``."""
    try:
        return path.is_file() and path.read_bytes() != data
    except OSError:
        return False  # unreadable: the write reports it


__all__ = ["DASHBOARDS_DIR", "SPEC_FILE", "fitting_dashboards", "render_spec", "spec_document", "write_output"]
