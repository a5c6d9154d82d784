"""``promcast generate-rules``: spec -> history -> fits -> rule model -> files, checked before written.

:func:`run_generate_rules` is what the CLI calls; it returns a :class:`GenerateSummary` and raises a
:class:`~promcast.errors.PromcastError` (one clear line) for anything the user can fix. Nothing is
written unless every target was fitted, every expression parses and, with ``check``, promtool's
``check rules`` and the generated ``test rules`` pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from ..sources.base import Source
from ..sources.spec import PrometheusSettings, SourceSpec, resolve_source
from .fit import SeriesFailure
from .fitting import FitReport, fit_spec
from .generate import generate_rules
from .model import RuleGroups
from .render import FORMATS, TESTS_DIR, render
from .spec import RuleSpec, load_spec
from .validate import check_expressions, check_round_trip, check_with_promtool, promtool_path
from .write import check_output_dir, check_overwrites, write_files


@dataclass(frozen=True)
class GenerateSummary:
    """What a run produced: files, counts, what was learned per target, and per-series failures."""

    spec: str
    output_dir: Path
    format: str
    files: tuple[Path, ...]
    removed: tuple[Path, ...]
    groups: int
    rules: int
    series: int
    checked: bool
    bytes_written: int
    failures: tuple[SeriesFailure, ...] = ()
    warnings: tuple[str, ...] = ()
    learned: dict = field(default_factory=dict)
    fitted: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every series was fitted (failed series fall back to their target's default set)."""
        return not self.failures

    def lines(self) -> list[str]:
        """A short human report (the CLI prints it)."""
        out = [f"wrote {len(self.files)} files ({self.bytes_written:,} bytes) to {self.output_dir}: "
               f"{self.rules} rules in {self.groups} groups for {self.series} series"
               + ("; promtool check rules and test rules passed" if self.checked else "")]
        for target, lines in self.learned.items():
            for line in lines:
                out.append(f"  {target}: {line}")
        for path in self.removed:
            out.append(f"removed stale {path}")
        for warning in self.warnings:
            out.append(f"warning: {warning}")
        for failure in self.failures:
            out.append(f"warning: could not fit {failure}; it uses its target's default parameters")
        return out


def make_source(spec: RuleSpec, *, prometheus_url: str | None = None, source: Any = None,
                settings=None) -> Source:
    """The history source: an explicit one, ``--prometheus-url``, the spec's ``source``, or the config
    (the order of :func:`~promcast.sources.spec.resolve_source`; every ``prometheus.*`` setting applies)."""
    if source is not None and prometheus_url:
        raise InputError("give either --prometheus-url or --source, not both")
    if isinstance(source, Source):
        return source
    return source_spec(spec, prometheus_url=prometheus_url, source=source, settings=settings).open()


def source_spec(spec: RuleSpec, *, prometheus_url: str | None = None, source: str | None = None,
                settings=None) -> SourceSpec:
    """The spec's source as a :class:`SourceSpec`; the demo ends at the spec's ``source.end``, else at the
    ``demo.now`` setting, else now."""
    prometheus = settings.prometheus if settings is not None else PrometheusSettings()
    demo_now = spec.source.end if spec.source.end is not None else (settings.demo.now if settings else None)
    return resolve_source(
        prometheus, choice=source, url=prometheus_url or spec.source.prometheus_url, csv=spec.source.csv or (),
        demo=bool(spec.source.demo), demo_now=demo_now,
        missing="no history source: set source.prometheus_url (or source.csv / source.demo) in the spec, "
                "or pass --prometheus-url URL or --source demo")


def expected_names(spec: RuleSpec, fmt: str) -> list[str]:
    """The files a run will write (known before fitting, so clashes are reported up front)."""
    names = [f"{TESTS_DIR}/{spec.name}.{t.name}.test.yaml" for t in spec.targets]
    plain = [f"{spec.name}.{t.name}.rules.yaml" for t in spec.targets]
    names += plain if fmt in ("prometheus", "both") else [f"{TESTS_DIR}/{p}" for p in plain]
    if fmt in ("prometheusrule", "both"):
        names.append(f"{spec.name}.prometheusrule.yaml")
    return sorted(names)


def build_files(spec: RuleSpec, report: FitReport, fmt: str, *, check: bool) -> tuple[RuleGroups, dict, list]:
    """Generate, render and validate (no writing): returns the rule model, the files and warnings."""
    groups = generate_rules(spec, report.fits)
    files = render(groups, fmt)
    warnings = check_expressions(groups)
    check_round_trip(groups, files)
    if check:
        check_with_promtool(files)
    return groups, files, warnings


def run_generate_rules(spec_path: str | os.PathLike, output_dir: str | os.PathLike, format: str = "prometheus",
                       prometheus_url: str | None = None, source: Any = None, check: bool = False,
                       force: bool = False, executor: str = "local", progress: bool = True, *,
                       settings=None, end: pd.Timestamp | str | None = None) -> GenerateSummary:
    """Generate rules from the RuleSpec at ``spec_path`` into ``output_dir``.

    ``format``: prometheus | prometheusrule | both. History comes from ``source`` (a Source, "demo" or
    "csv"), else ``prometheus_url``, else the spec's ``source``, else ``settings.prometheus.url``.
    ``check`` runs promtool (check rules + the generated test rules) before writing. ``force``
    overwrites files promcast did not generate. ``executor``: local | dask (on ``executor.scheduler``
    from the settings when one is set, else a local cluster). ``end`` fixes the end of
    the history (default: the spec's ``source.end``, else now).
    """
    fmt = format
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if executor not in ("local", "dask"):
        raise InputError(f"unknown executor {executor!r}; use local or dask")
    spec = load_spec(spec_path)
    check_output_dir(output_dir)
    check_overwrites(output_dir, expected_names(spec, fmt), force=force)
    if check:
        promtool_path()  # fail before fetching anything when --check cannot run
    src = make_source(spec, prometheus_url=prometheus_url, source=source, settings=settings)
    scheduler = settings.executor.scheduler if settings is not None and executor == "dask" else None
    try:
        report = fit_spec(spec, src, end=pd.Timestamp(end) if end is not None else None, executor=executor,
                          scheduler=scheduler, progress=progress)
    finally:
        src.close()
    groups, files, warnings = build_files(spec, report, fmt, check=check)
    written, removed = write_files(output_dir, files, force=force, spec_name=spec.name)
    return GenerateSummary(
        spec=str(spec_path), output_dir=Path(output_dir), format=fmt, files=tuple(written), removed=tuple(removed),
        groups=len(groups.groups), rules=groups.rule_count, series=sum(g.series for g in groups.groups),
        checked=check, bytes_written=sum(len(t.encode()) for t in files.values()), failures=report.failures,
        warnings=tuple(warnings), learned={g.target: list(g.learned) for g in groups.groups},
        fitted={name: {s.legend: dict(s.numbers) for s in fit.series} for name, fit in report.fits.items()},
    )


__all__ = ["GenerateSummary", "build_files", "expected_names", "make_source", "run_generate_rules", "source_spec"]
