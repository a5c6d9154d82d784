"""``promcast init``: find the well-known metric families a Prometheus (or the demo) has and write the
RuleSpec and dashboards for them.

:mod:`.catalogue` lists the presets as data, :mod:`.discover` looks for them with bounded calls, and
:mod:`.write` writes the spec (validated first) and the dashboards that fit, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..sources.base import Source, source_now
from .discover import Finding, Probe, discover
from .write import fitting_dashboards, render_spec, spec_document, write_output


class NothingFound(InputError):
    """No preset found its metric family: there is nothing to predict on, so nothing is written."""

    code = "nothing_found"


@dataclass(frozen=True)
class InitResult:
    findings: tuple[Finding, ...]
    files: tuple[Path, ...]

    def lines(self) -> list[str]:
        return [f.line() for f in self.findings] + [f"wrote {path}" for path in self.files]


def run_init(source: Source, output: str | Path, *, spec_source: dict, namespace: str | None = None,
             end: pd.Timestamp | None = None, force: bool = False) -> InitResult:
    """Discover, then write ``output/promcast-rules.yaml`` and the dashboards; ``spec_source`` is the spec's
    ``source`` (``{"prometheus_url": ...}`` or ``{"demo": True}``). A file there with other content (an
    edited spec) is an error unless ``force``."""
    probe = Probe(source, end if end is not None else source_now(source), namespace=namespace)
    findings = discover(probe)
    targets = [t for f in findings for t in f.targets]
    if not targets:
        lines = "\n  ".join(f.line() for f in findings)
        raise NothingFound(f"no known metric family at {source.description}; nothing written to {output}:\n  {lines}")
    header = [f"Written by promcast init from the metric families found at {source.description}"
              + (f" (namespace {namespace})" if namespace else "") + ".",
              *(f"  {f.line()}" for f in findings),
              "Edit freely; check with: promcast generate-rules --spec THIS --output DIR --check"]
    text = render_spec(spec_document(targets, spec_source), header)
    files = write_output(output, text, fitting_dashboards(targets), force=force)
    return InitResult(tuple(findings), tuple(files))


__all__ = ["InitResult", "NothingFound", "run_init"]
