"""kinds.report predict / format_table and maintenance series matching: what the CLI and the Grafana targets call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError, UnknownNameError
from promcast.kinds.registry import DISK
from promcast.kinds.report import format_table, predict, predictions
from promcast.maintenance import used_from_available, values_by_series
from promcast.sources.base import History

STEP = pd.Timedelta("10min")
INDEX = pd.date_range("2024-01-01", periods=int(pd.Timedelta(days=3) / STEP), freq=STEP, tz="UTC")
DAYS = np.asarray((INDEX - INDEX[0]) / pd.Timedelta(days=1), dtype=float)


def disk(mount: str, start: float, per_day: float) -> History:
    return History({"__name__": "used", "mountpoint": mount}, pd.Series(start + per_day * DAYS, index=INDEX))


def test_disk_rows_are_sorted_soonest_first_with_labels():
    rows = predict("disk", [disk("/slow", 10, 2), disk("/flat", 50, 0), disk("/fast", 20, 10)], capacity=100)
    assert [r["labels"]["mountpoint"] for r in rows] == ["/fast", "/slow", "/flat"]
    assert rows[0]["series"] == 'used{mountpoint="/fast"}'
    assert set(DISK.fields) <= set(rows[0])
    assert rows[2]["days_to_full"] is None


def test_per_series_capacity_and_a_failing_series_listed_last():
    rows = predict("disk", [disk("/a", 10, 2), disk("/b", 10, 2)], capacity=[100, 5])
    assert rows[0]["labels"]["mountpoint"] == "/a" and "error" not in rows[0]
    assert "above the capacity" in rows[1]["error"]
    assert all(rows[1][f] is None for f in DISK.fields)


def test_all_series_failing_raises_the_error():
    with pytest.raises(InputError, match="above the capacity"):
        predict("disk", [disk("/a", 10, 2)], capacity=1)
    with pytest.raises(InputError, match="all 2 series failed"):
        predict("disk", [disk("/a", 10, 2), disk("/b", 10, 2)], capacity=1)


def test_memory_leaks_come_first():
    leak = History({"job": "leaky"}, pd.Series(100e6 + 2e6 * DAYS * 24, index=INDEX))
    flat = History({"job": "flat"}, pd.Series(100e6, index=INDEX))
    rows = predict("memory", [flat, leak], limit=5e8)
    assert [r["labels"]["job"] for r in rows] == ["leaky", "flat"]
    assert rows[0]["is_leak"] and rows[0]["time_to_oom_hours"] > 0


def test_predictions_expose_fitted_predictors_and_projections():
    (result,) = predictions("disk", [disk("/a", 10, 10)], capacity=100)
    proj = result.projection()
    assert result.failure is None and proj.iloc[-1] == 100
    assert result.predictor.window_ >= pd.Timedelta("1h")


@pytest.mark.parametrize("call,error,needle", [
    (lambda: predict("cpu", [disk("/a", 1, 1)]), UnknownNameError, "unknown prediction kind"),
    (lambda: predict("disk", [], capacity=100), InputError, "no series"),
    (lambda: predict("disk", [disk("/a", 1, 1)]), InputError, "needs --capacity"),
    (lambda: DISK.make_predictor(capacity=100, limit=3), InputError, "unknown option"),
    (lambda: predict("disk", [disk("/a", 1, 1)], capacity=[1, 2]), InputError, "one per series"),
])
def test_user_mistakes_are_clear_errors(call, error, needle):
    with pytest.raises(error, match=needle):
        call()


def test_used_from_available_matches_size_by_labels():
    labels = {"device": "sda1", "mountpoint": "/"}
    avail = [History({"__name__": "node_filesystem_avail_bytes", **labels}, pd.Series(80.0 - 10 * DAYS, index=INDEX))]
    size = [History({"__name__": "node_filesystem_size_bytes", **labels}, pd.Series(100.0, index=INDEX))]
    used, capacities = used_from_available(avail, size)
    assert capacities == [100.0]
    assert "__name__" not in used[0].labels
    np.testing.assert_allclose(used[0].values.to_numpy(), 20.0 + 10 * DAYS)
    rows = predict("disk", used, capacity=capacities)
    assert rows[0]["days_to_full"] == pytest.approx(5.0, rel=0.02)


def test_used_from_available_mismatch_names_the_series():
    avail = [History({"mountpoint": "/"}, pd.Series(1.0, index=INDEX)), History({"mountpoint": "/x"}, pd.Series(1.0, index=INDEX))]
    size = [History({"mountpoint": "/a"}, pd.Series(2.0, index=INDEX)), History({"mountpoint": "/b"}, pd.Series(2.0, index=INDEX))]
    with pytest.raises(InputError, match='mountpoint="/"'):
        used_from_available(avail, size)


def test_values_by_series_broadcasts_a_single_limit():
    procs = [History({"job": "a"}, pd.Series(1.0, index=INDEX)), History({"job": "b"}, pd.Series(1.0, index=INDEX))]
    limit = [History({"__name__": "limit"}, pd.Series([5.0, 7.0], index=INDEX[:2]))]
    assert values_by_series(procs, limit, what="limit") == [7.0, 7.0]
    per = [History({"job": "b"}, pd.Series(9.0, index=INDEX)), History({"job": "a"}, pd.Series(8.0, index=INDEX))]
    assert values_by_series(procs, per, what="limit") == [8.0, 9.0]


def test_format_table_aligns_rows_and_shows_nulls():
    rows = predict("disk", [disk("/slow", 10, 2), disk("/flat", 50, 0)], capacity=100)
    text = format_table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["series", *DISK.fields]
    assert len(lines) == 3
    end = lines[0].index("days_to_full ") + len("days_to_full")  # numbers are right-aligned under it
    assert lines[1][end - 1].isdigit() and lines[1][end] == " "
    assert lines[2].startswith('used{mountpoint="/flat"}') and lines[2][end - 1] == "-"
    assert format_table(rows, kind="disk") == text
