"""plot_projection: a real PNG/SVG, written atomically, with a clear error for a bad path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError
from promcast.maintenance import DiskUsagePredictor, plot_projection
from promcast.sources.base import History

INDEX = pd.date_range("2024-01-01", periods=3 * 144, freq="10min", tz="UTC")
USED = pd.Series(10.0 + 10 * np.arange(len(INDEX)) / 144, index=INDEX)


def test_png_with_history_projection_and_limit(tmp_path):
    fit = DiskUsagePredictor(100).fit(USED)
    out = plot_projection(History({"mountpoint": "/"}, USED), fit.projection(), 100, tmp_path / "disk.png")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    assert [p.name for p in tmp_path.iterdir()] == ["disk.png"]  # no temp file left behind


def test_forecast_frame_draws_a_band_as_svg(tmp_path):
    frame = pd.DataFrame({"yhat": 1.0, "yhat_lower": 0.5, "yhat_upper": 1.5},
                         index=pd.date_range(INDEX[-1], periods=10, freq="1h"))
    out = plot_projection(USED, frame, None, tmp_path / "cap.svg", title="load")
    assert out.read_text().lstrip().startswith("<?xml")


def test_existing_file_is_replaced_whole(tmp_path):
    target = tmp_path / "p.png"
    target.write_bytes(b"old")
    plot_projection(USED, None, 100, target)
    assert target.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("name,needle", [("p.jpg", "must end in"), ("missing/p.png", "does not exist")])
def test_bad_paths_are_clear_errors(tmp_path, name, needle):
    with pytest.raises(InputError, match=needle):
        plot_projection(USED, None, 100, tmp_path / name)
