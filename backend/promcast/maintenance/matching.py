"""Matching Prometheus series for the predictors: space used from ``avail`` and ``size`` series, and a
limit series' latest value per usage series (labels matched, ``__name__`` aside)."""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from ..errors import InputError
from ..sources.base import History
from .disk import used_space


def _key(labels: Mapping[str, str]) -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def values_by_series(histories: Sequence[History], others: Sequence[History], *, what: str) -> list[float]:
    """The latest value of the series in ``others`` with the same labels (``__name__`` aside) as each
    history, e.g. a disk's ``node_filesystem_size_bytes`` or a container's memory limit.

    A single series in ``others`` applies to every history. InputError naming the series otherwise.
    """
    if not others:
        raise InputError(f"the {what} query returned no series")
    latest = {}
    for other in others:
        vals = other.values.dropna()
        if len(vals):
            latest[_key(other.labels)] = float(vals.iloc[-1])
    out = []
    for history in histories:
        k = _key(history.labels)
        if k in latest:
            out.append(latest[k])
        elif len(others) == 1 and latest:
            out.append(next(iter(latest.values())))
        else:
            raise InputError(f"no {what} series has the labels of {history.legend}; "
                             f"match the {what} query's labels to the main query's")
    return out


def used_from_available(avail: Sequence[History], size: Sequence[History] | float) -> tuple[list[History], list[float]]:
    """Space used (``size - avail``) per series and each disk's capacity, by :func:`.disk.used_space`.

    ``size`` is a number (the same for every series) or the ``--size-expr`` series, matched by labels.
    """
    used, capacities = [], []
    sizes: dict[tuple, pd.Series] = {}
    if not isinstance(size, (int, float)):
        for s in size:
            sizes[_key(s.labels)] = s.values.dropna()
        if not sizes:
            raise InputError("the size query returned no series")
    for h in avail:
        if isinstance(size, (int, float)):
            total: pd.Series | float = float(size)
        else:
            total = sizes.get(_key(h.labels))
            if total is None:
                if len(sizes) != 1:
                    raise InputError(f"no size series has the labels of {h.legend}; give the size expression "
                                     "(--size-expr, payload.size_expr) the labels of the usage expression "
                                     "(e.g. both by device and mountpoint)")
                total = next(iter(sizes.values()))
            if total.empty:
                raise InputError(f"the size series for {h.legend} has no values")
        try:
            values, capacity = used_space(h.values, total)
        except InputError as exc:
            raise InputError(f"{h.legend}: {exc}") from exc
        labels = {k: v for k, v in h.labels.items() if k != "__name__"}
        used.append(History(labels=labels, values=values))
        capacities.append(capacity)
    return used, capacities
