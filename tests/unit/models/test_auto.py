"""``auto``'s own behaviour: selection by the series' own past, conformal bands, robustness to incidents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError
from promcast.models import get_model
from promcast.models.conformal import ConformalBands
from promcast.models.pool import CANDIDATES, Skip, forecast

from .conftest import PER_DAY, STEP, daily_series


def _noise_level(days: float, seed: int = 0) -> pd.Series:
    """A level with noise and no season: what most CPU metrics look like."""
    n = int(days * PER_DAY)
    index = pd.date_range("2024-01-01", periods=n, freq=STEP, tz="UTC")
    return pd.Series(20.0 + np.random.default_rng(seed).normal(0.0, 1.0, n), index=index)


def test_selection_finds_the_daily_season_and_its_absence():
    seasonal = get_model("auto").fit(daily_series(days=8, amplitude=6.0))
    flat = get_model("auto").fit(_noise_level(8))
    assert seasonal.seasonality_ == "daily"
    assert flat.seasonality_ == "none"
    assert seasonal.winners_ and set(seasonal.winners_) <= set(CANDIDATES)


def test_forecast_beats_seasonal_naive_on_noise_and_band_covers():
    history, future = _noise_level(9).iloc[: 8 * PER_DAY], _noise_level(9).iloc[8 * PER_DAY:]
    model = get_model("auto").fit(history)
    frame = model.predict_at(future.index)
    naive = get_model("seasonal_naive").fit(history).predict_at(future.index)
    mae = np.mean(np.abs(future - frame["yhat"]))
    assert mae < 0.85 * np.mean(np.abs(future - naive["yhat"]))  # noise twice vs once
    covered = np.mean((future >= frame["yhat_lower"]) & (future <= frame["yhat_upper"]))
    assert 0.88 <= covered <= 1.0


def test_band_widens_with_the_interval_and_not_below_the_residual_noise():
    model = get_model("auto").fit(_noise_level(8))
    wide, narrow = model.predict("1d", interval=0.95), model.predict("1d", interval=0.5)
    assert np.all(wide["yhat_upper"] - wide["yhat_lower"] >= narrow["yhat_upper"] - narrow["yhat_lower"] - 1e-12)
    # noise sd 1: a 95% band is about +-2 (a bit more: conformal quantiles, finite-sample correction)
    half = float(np.median(wide["yhat_upper"] - wide["yhat"]))
    assert 1.5 < half < 4.0


def test_spikes_and_an_outage_in_the_history_do_not_bend_the_forecast():
    clean = daily_series(days=8, seed=1)
    dirty = clean.copy()
    dirty.iloc[3 * PER_DAY + 10: 3 * PER_DAY + 14] += 60.0  # a spike
    dirty.iloc[5 * PER_DAY + 40: 5 * PER_DAY + 44] = 0.0  # a short outage
    dirty.iloc[-PER_DAY // 2] += 80.0  # one wild point half a day ago
    a = get_model("auto").fit(clean).predict("1d")["yhat"]
    b = get_model("auto").fit(dirty).predict("1d")["yhat"]
    assert np.mean(np.abs(a - b)) < 0.3  # noise sd 0.5, spikes of 60-80


def test_a_level_shift_at_the_end_moves_the_forecast():
    history = _noise_level(8)
    history.iloc[-6:] += 15.0  # the last 90 minutes at 15 sd higher: an instance took on work
    frame = get_model("auto").fit(history).predict("2h")
    assert frame["yhat"].iloc[0] == pytest.approx(35.0, abs=2.5)
    off = get_model("auto", shift_points=None, outlier_z=None).fit(history).predict("2h")
    assert abs(off["yhat"].iloc[0] - 35.0) > abs(frame["yhat"].iloc[0] - 35.0)


def test_rolling_origins_use_only_the_history_given():
    """Selection is made inside the history: a longer history may change it, a fit never reads past its end."""
    series = daily_series(days=8, seed=2)
    a = get_model("auto").fit(series.iloc[: 6 * PER_DAY])
    b = get_model("auto").fit(series.iloc[: 6 * PER_DAY].copy())
    pd.testing.assert_frame_equal(a.predict("1d"), b.predict("1d"))
    assert a.last_timestamp_ == series.index[6 * PER_DAY - 1]


def test_bad_pool_and_combine_are_input_errors():
    with pytest.raises(InputError, match="unknown candidate"):
        get_model("auto", pool=("naive_day", "arima")).fit(daily_series())
    with pytest.raises(InputError, match="combine"):
        get_model("auto", combine="max").fit(daily_series())


def test_pool_candidates_forecast_or_skip():
    y = daily_series(days=3).to_numpy()
    for name in CANDIDATES:
        if name == "prophet":
            continue
        try:
            path, _ = forecast(name, y, 10, PER_DAY)
        except Skip:
            assert name in ("naive_week", "seasonal_median_week")
            continue
        assert path.shape == (10,) and np.all(np.isfinite(path))


def test_conformal_bands_cover_their_own_errors_per_step():
    rng = np.random.default_rng(0)
    errors = rng.normal(0.0, 1.0, (40, 100)) * np.linspace(1.0, 3.0, 100)  # errors grow with the horizon
    bands = ConformalBands.fit(errors, min_samples=200)
    lo, hi = bands.band(np.arange(100), 0.9)
    assert np.all(hi[1:] >= hi[:-1] - 1e-12) and np.all(lo[1:] <= lo[:-1] + 1e-12)
    assert hi[-1] > 2 * hi[0]
    inside = (errors >= lo) & (errors <= hi)
    assert 0.88 <= inside.mean() <= 0.97
