"""The shared contract pieces: calibration, bands, alignment, serialisation errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from promcast.errors import InputError
from promcast.models import forecast_frame, get_model, interval_z, load_model, tail_score
from promcast.models.base import PromcastModel, read_header, robust_scale

from .conftest import daily_series


def test_tail_score_is_calibrated():
    assert tail_score(0.0) == 0.0
    assert tail_score(1.959964) == pytest.approx(0.95, abs=1e-6)
    assert tail_score(-1.959964) == pytest.approx(0.95, abs=1e-6)
    assert tail_score(np.nan) == 0.0 and tail_score(np.inf) == 1.0


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "abc", None])
def test_interval_z(bad):
    assert interval_z(0.95) == pytest.approx(1.959964, abs=1e-5)
    with pytest.raises(InputError, match="interval"):
        interval_z(bad)


def test_robust_scale():
    rng = np.random.default_rng(0)
    assert robust_scale(rng.normal(0, 2, 20_000)) == pytest.approx(2.0, rel=0.05)
    mostly_equal = np.r_[np.zeros(80), np.ones(20)]  # MAD is 0: falls back, stays positive
    assert robust_scale(mostly_equal) > 0.1
    assert 0 < robust_scale(np.full(10, 5.0), level=5.0) < 1e-4
    assert robust_scale([]) > 0


def test_forecast_frame_keeps_yhat_inside_the_band():
    index = pd.date_range("2024-01-01", periods=2, freq="1min", tz="UTC")
    frame = forecast_frame(index, [1.0, 2.0], [1.5, 1.0], [0.5, 3.0])
    assert frame["yhat_lower"].tolist() == [1.0, 1.0] and frame["yhat_upper"].tolist() == [1.0, 3.0]
    assert frame.index.name == "timestamp"


def test_scores_follow_the_input_index_even_with_duplicates_and_disorder():
    model = get_model("mad").fit(daily_series())
    s = daily_series(days=1, seed=4)
    messy = pd.concat([s.iloc[10:], s.iloc[:10], s.iloc[[3]] + 100.0])
    scores = model.score(messy)
    assert scores.index.equals(messy.index)
    # the duplicated timestamp (averaged with a +100 outlier) shares one, high score
    assert scores.loc[s.index[3]].nunique() == 1 and scores.loc[s.index[3]].iloc[0] > 0.99


def test_univariate_models_take_one_column_frames_only():
    model = get_model("mad").fit(daily_series().to_frame())
    two = pd.DataFrame({"a": daily_series(), "b": daily_series()})
    with pytest.raises(InputError, match="one series"):
        model.score(two)


def test_downsampled_fit_relearns_residuals_at_the_data_step():
    index = pd.date_range("2024-01-01", periods=10_080, freq="1min", tz="UTC")
    rng = np.random.default_rng(0)
    phase = 2 * np.pi * np.arange(len(index)) / 1440
    series = pd.Series(10 + 3 * np.sin(phase) + rng.normal(0, 0.5, len(index)), index=index)
    model = get_model("holt_winters").fit(series)
    assert model.fit_step_ > model.step_
    assert model.resid_scale_ == pytest.approx(0.5, rel=0.2)  # not the smaller noise of averaged bins


def test_serialisation_errors_are_clear(tmp_path):
    with pytest.raises(NotFittedError):
        get_model("mad").to_bytes()
    with pytest.raises(InputError, match="not a stored promcast model"):
        load_model(b"garbage")
    data = get_model("mad").fit(daily_series()).to_bytes()
    name, params, _ = read_header(data)
    assert name == "mad" and params["season"] == "1d"
    with pytest.raises(InputError, match="corrupt"):
        load_model(data[:-20])
    with pytest.raises(InputError, match="cannot read stored model"):
        PromcastModel.load(tmp_path / "missing.model")


def test_models_stored_in_format_1_still_load():
    """Format 1 (joblib pickle) is what stores written before format 2 hold."""
    import io
    import json

    import joblib

    from promcast.models.base import _MAGIC

    fitted = get_model("mad").fit(daily_series())
    header = json.dumps({"format": 1, "model": "mad", "params": fitted.get_params(deep=False)}).encode()
    buf = io.BytesIO()
    joblib.dump({"params": fitted.get_params(deep=False), "state": fitted._dump_state()}, buf, compress=3)
    old = _MAGIC + len(header).to_bytes(4, "big") + header + buf.getvalue()
    loaded = load_model(old)
    pd.testing.assert_frame_equal(loaded.predict("1h"), fitted.predict("1h"))
    assert load_model(fitted.to_bytes()).to_bytes() == fitted.to_bytes()
