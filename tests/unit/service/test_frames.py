"""Response elements: valid JSON (no NaN), refIds, notices, names and thinning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from promcast.service.frames import (Points, attach_notices, dump_points, encode_frames, field_name, legends,
                                     series_frame, table_frame, thin)

INDEX = pd.date_range("2024-06-10", periods=4, freq="1min", tz="UTC")


def test_series_frames_drop_non_finite_points_and_encode_as_json():
    frame = series_frame("actual", INDEX, [1.5, np.nan, np.inf, 2.0], "A")
    body = json.loads(encode_frames([frame, table_frame([("time", "time")], [[1]], "B")]))
    assert body[0] == {"target": "actual", "refId": "A",
                       "datapoints": [[1.5, 1717977600000], [2.0, 1717977780000]]}
    assert body[1] == {"type": "table", "columns": [{"text": "time", "type": "time"}], "rows": [[1]], "refId": "B"}
    assert "NaN" not in encode_frames([frame])


def test_encoded_points_are_reused_as_is():
    points = Points.encode(INDEX[:1], [3.25])
    assert json.loads(encode_frames([series_frame("yhat", None, points, "A")]))[0]["datapoints"] == [[3.25, 1717977600000]]


def test_notices_go_on_the_first_frame_or_an_empty_one():
    frames = attach_notices([], [{"severity": "error", "text": "boom"}] * 2, "C")
    body = json.loads(encode_frames(frames))
    assert body == [{"target": "C", "datapoints": [], "refId": "C",
                     "meta": {"notices": [{"severity": "error", "text": "boom"}]}}]


def test_thin_keeps_at_most_max_points_and_max_keeps_peaks():
    series = pd.Series(np.zeros(1001), index=pd.date_range("2024-06-10", periods=1001, freq="1min", tz="UTC"))
    series.iloc[500] = 1.0
    assert len(thin(series, 100)) <= 100
    assert thin(series, 100, how="max").max() == 1.0
    assert thin(series, 5000) is series


def test_legends_show_what_tells_series_apart():
    labels = [{"__name__": "up", "job": "node", "instance": "a"}, {"__name__": "up", "job": "node", "instance": "b"}]
    assert legends(labels, None) == ['{instance="a"}', '{instance="b"}']
    assert legends(labels, "{{instance}} on {{ job }}{{missing}}") == ["a on node", "b on node"]
    assert legends(labels[:1], None) == ['up{instance="a",job="node"}']
    assert field_name("a", "yhat", True) == "a yhat" and field_name("a", "yhat", False) == "yhat"


# ------------------------------------------------------------------ the fast encoder writes the same bytes


def stdlib_points(values: np.ndarray, ms: np.ndarray) -> str:
    """How points were written before orjson: the standard library, compact separators."""
    return json.dumps(list(zip(values.tolist(), ms.tolist())), separators=(",", ":"))


def _values() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(12)
    bits = rng.integers(0, 2**64, 200_000, dtype=np.uint64).view(np.float64)
    edges = [0.0, -0.0, 1.0, 5.0, 100.0, 0.1, 1 / 3, 2.0**53, 2.0**53 + 2, 1e15, 123456789012345.6,
             1e-4, -1e-4, np.nextafter(1e-4, 1), np.nextafter(1e-4, 0), 1e-5, 7.5e-5, 1e-300, 5e-324,
             np.nextafter(1e16, 0), 1e16, -1e16, 1.5e16, 1e22, 1.7976931348623157e308]
    return {
        "random bits": bits[np.isfinite(bits)],
        "log-uniform 1e-8..1e20": 10 ** rng.uniform(-8, 20, 200_000) * rng.choice([-1.0, 1.0], 200_000),
        "metric-like": np.concatenate([rng.normal(0.4, 0.1, 50_000), np.round(rng.uniform(0, 1e12, 50_000)),
                                       np.round(rng.uniform(0, 100, 50_000), 2)]),
        "edges": np.array(edges),
    }


@pytest.mark.parametrize("name", list(_values()))
def test_points_are_the_bytes_the_standard_library_writes(name):
    values = _values()[name]
    ms = 1_717_977_600_000 + 60_000 * np.arange(len(values), dtype=np.int64)
    for chunk in range(0, len(values), 1000):  # each chunk alone: one odd value sends a chunk to the stdlib
        v, t = values[chunk:chunk + 1000], ms[chunk:chunk + 1000]
        assert dump_points(v, t) == stdlib_points(v, t)


def test_orjson_writes_only_what_it_writes_like_the_standard_library(monkeypatch):
    import promcast.service.frames as frames

    calls = []
    monkeypatch.setattr(frames, "orjson", type("Spy", (), {"dumps": staticmethod(
        lambda obj: calls.append(obj) or __import__("orjson").dumps(obj))}))
    ms = np.array([1_717_977_600_000, 1_717_977_660_000])
    assert dump_points(np.array([0.5, 2.0]), ms) == "[[0.5,1717977600000],[2.0,1717977660000]]"
    assert len(calls) == 1
    assert dump_points(np.array([0.5, 1e-05]), ms) == "[[0.5,1717977600000],[1e-05,1717977660000]]"
    assert dump_points(np.array([0.5, 1e16]), ms) == "[[0.5,1717977600000],[1e+16,1717977660000]]"
    assert len(calls) == 1  # both went to the standard library
    assert dump_points(np.array([]), np.array([], dtype=np.int64)) == "[]"
