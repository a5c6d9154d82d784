"""Response elements: valid JSON (no NaN), refIds, notices, names and thinning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from promcast.service.frames import (Points, attach_notices, encode_frames, field_name, legends, series_frame,
                                     table_frame, thin)

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
