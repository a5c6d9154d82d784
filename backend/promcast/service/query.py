"""Answering ``/query``: every target runs on its own, and one failing target never breaks the rest.

A failing target's refId still gets a frame, whose ``meta.notices`` carries the error (Grafana shows
it on the panel); only when every target fails does the request fail, with that error's status.
"""

from __future__ import annotations

import logging

import pandas as pd

from ..config import Settings
from ..errors import PromcastError
from ..sources.base import Source
from .cache import ModelCache
from .frames import attach_notices
from .metrics import ServiceMetrics
from .range_cache import RangeCache
from ..sources.base import source_now
from .request import QueryRequest, notice
from .targets import get_target, target_names
from .targets.base import QueryContext

log = logging.getLogger(__name__)


def run_query(request: QueryRequest, *, source: Source, cache: ModelCache, settings: Settings,
              metrics: ServiceMetrics | None = None, range_cache: RangeCache | None = None) -> list[dict]:
    """The ``/query`` answer: response elements for every visible target, in request order."""
    ctx = QueryContext(request=request, source=source, cache=cache, settings=settings, now=source_now(source),
                       range_cache=range_cache)
    frames: list[dict] = []
    failures: list[tuple[str, Exception]] = []
    visible = [t for t in request.targets if not t.hide]
    for query in visible:
        try:
            target = get_target(query.target)
            result = target.run(ctx, query, query.payload())
        except PromcastError as exc:
            failures.append((query.ref_id, exc))
            _count_error(metrics, query.target, exc.code)
            frames.extend(attach_notices([], [notice("error", str(exc))], query.ref_id))
            continue
        except Exception as exc:  # a bug: logged with its traceback, the other targets still answer
            log.exception("target %s (refId %s) failed", query.target, query.ref_id)
            failures.append((query.ref_id, exc))
            _count_error(metrics, query.target, "internal")
            text = f"internal error in target {query.target}: {exc.__class__.__name__}; see promcast's log"
            frames.extend(attach_notices([], [notice("error", text)], query.ref_id))
            continue
        frames.extend(attach_notices(result.frames, [*request.notices, *result.notices], query.ref_id))
    if visible and len(failures) == len(visible):
        raise _combined(failures)
    return frames


def _count_error(metrics: ServiceMetrics | None, target: str | None, code: str) -> None:
    if metrics is not None:
        name = target if target in target_names() else "unknown"
        metrics.target_errors_total.labels(name, code).inc()


def _combined(failures: list[tuple[str, Exception]]) -> Exception:
    """The error for a request whose targets all failed: the first one's kind, every message."""
    first = failures[0][1]
    if len(failures) == 1 or not isinstance(first, PromcastError):
        return first
    messages = []
    for ref_id, exc in failures:
        text = f"{ref_id}: {exc}"
        if text not in messages:
            messages.append(text)
    combined = type(first)("; ".join(messages))
    combined.__cause__ = first
    return combined
