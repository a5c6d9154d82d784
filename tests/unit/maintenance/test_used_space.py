""""Used = size - available" is built once (:func:`promcast.maintenance.disk.used_space`): ``predict disk
--size-expr`` and ``generate-rules`` read the same data the same way and learn the same numbers."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from conftest import run_cli
from promcast.errors import InputError
from promcast.maintenance import used_from_available
from promcast.maintenance.disk import used_space
from promcast.rules.fitting import fit_spec
from promcast.rules.run import make_source
from promcast.rules.spec import parse_spec
from promcast.sources.base import History

END = "2024-05-06T12:00:00Z"
IDX = pd.date_range("2024-05-01", periods=6, freq="1h", tz="UTC")


def test_used_is_size_minus_free_with_the_size_carried_onto_every_sample():
    avail = pd.Series([60.0, 55.0, float("nan"), 50.0, 45.0, 40.0], index=IDX)
    size = pd.Series([100.0, 120.0], index=[IDX[1], IDX[4]])  # resized between samples
    used, capacity = used_space(avail, size)
    assert list(used.index) == [IDX[0], IDX[1], IDX[3], IDX[4], IDX[5]]  # no value, no usage
    assert used.tolist() == [40.0, 45.0, 50.0, 75.0, 80.0]  # the first size reaches back, each carries forward
    assert capacity == 120.0
    const, cap = used_space(avail, 80.0)
    assert const.iloc[0] == 20.0 and cap == 80.0


@pytest.mark.parametrize("avail, size, message", [
    ([10.0, 120.0], 100.0, "free space is larger than the size"),
    ([10.0, 20.0], 0.0, "size must be positive"),
    ([float("nan")] * 2, 100.0, "has no values"),
])
def test_impossible_inputs_are_refused_the_same_way_everywhere(avail, size, message):
    series = pd.Series(avail, index=IDX[:2])
    with pytest.raises(InputError, match=message):
        used_space(series, size)
    with pytest.raises(InputError, match=message):  # predict disk and the disk panel
        used_from_available([History({"device": "sda"}, series)], size)


def test_predict_disk_with_size_expr_and_generate_rules_learn_the_same_numbers(tmp_path):
    spec = parse_spec({
        "apiVersion": "promcast/v1", "kind": "RuleSpec", "metadata": {"name": "agree"},
        "source": {"demo": True, "end": END, "history": "7d", "step": "10m"},
        "targets": [{"name": "disks", "kind": "disk_exhaustion", "expr": "node_filesystem_avail_bytes",
                     "size_expr": "node_filesystem_size_bytes"}]})
    report = fit_spec(spec, make_source(spec), progress=False)
    learned = {_key(s.labels): s.numbers for s in report.fits["disks"].series}
    result = run_cli("predict", "disk", "--source", "demo", "--expr", "node_filesystem_avail_bytes",
                     "--size-expr", "node_filesystem_size_bytes", "--history", "7d", "--step", "10m",
                     "--end", END, "--format", "json", env={"PROMCAST_DEMO_NOW": END})
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]  # JSON lines
    assert len(rows) == len(learned) == 3
    for row in rows:
        numbers = learned[_key(row["labels"])]
        shared = sorted(set(row) & set(numbers) - {"labels", "series"})
        assert {"days_to_full", "current_usage", "daily_growth"} <= set(shared), shared
        for key in shared:
            a, b = row[key], numbers[key]
            if isinstance(a, float) and isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9), (key, a, b)
            else:
                assert a == b, (key, a, b)


def _key(labels) -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))
