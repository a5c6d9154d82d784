"""Panel steps are round, aligned, and never give more points than asked for."""

from __future__ import annotations

import pandas as pd
import pytest

from promcast.service.timegrid import grid, grid_start, nice_step, panel_step

T0 = pd.Timestamp("2024-06-08T12:00:07Z")


@pytest.mark.parametrize("at_least, expected", [
    ("0.3s", "1s"), ("1s", "1s"), ("61s", "2min"), ("4.3min", "5min"), ("13h", "1D"), ("50h", "3D"),
])
def test_nice_step_rounds_up(at_least, expected):
    assert nice_step(pd.Timedelta(at_least)) == pd.Timedelta(expected)


@pytest.mark.parametrize("span, max_points", [("2D", 1000), ("3D", 800), ("1h", 1), ("1h", 2), ("30D", 11000), ("0s", 5)])
def test_panel_grid_holds_at_most_max_points(span, max_points):
    end = T0 + pd.Timedelta(span)
    step = panel_step(T0, end, max_points)
    points = grid(T0, end, step)
    assert 0 < len(points) <= max_points
    assert points[0] >= T0 and points[-1] <= end
    assert (points.asi8 % step.value == 0).all()


def test_min_step_is_respected():
    assert panel_step(T0, T0 + pd.Timedelta("1h"), 1000, pd.Timedelta("5min")) == pd.Timedelta("5min")


def test_grid_start_is_the_first_multiple_at_or_after():
    assert grid_start(T0, pd.Timedelta("1min")) == pd.Timestamp("2024-06-08T12:01:00Z")
    assert grid_start(pd.Timestamp("2024-06-08T12:00:00Z"), pd.Timedelta("5min")) == pd.Timestamp("2024-06-08T12:00:00Z")
