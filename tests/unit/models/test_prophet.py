"""Prophet: seasonalities chosen from the data, the fast band, quiet logs, native serialisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.models import get_model, load_model
from promcast.models.prophet import choose_seasonalities

from .conftest import PER_DAY, daily_series

DAY = pd.Timedelta(days=1)


@pytest.mark.parametrize(
    ("span", "step", "expected"),
    [
        (DAY, pd.Timedelta("1min"), (False, False, False)),
        (2 * DAY, pd.Timedelta("5min"), (True, False, False)),
        (13 * DAY, pd.Timedelta("5min"), (True, False, False)),
        (14 * DAY, pd.Timedelta("5min"), (True, True, False)),
        (30 * DAY, pd.Timedelta("2h"), (False, True, False)),
        (800 * DAY, pd.Timedelta("1D"), (False, True, True)),
    ],
)
def test_seasonalities_need_two_cycles_and_enough_points(span, step, expected):
    chosen = choose_seasonalities(span, step)
    assert (chosen["daily"], chosen["weekly"], chosen["yearly"]) == expected


def test_prophet_learns_the_daily_cycle(capfd):
    model = get_model("prophet").fit(daily_series(days=4))
    assert model.seasonalities_ == {"daily": True, "weekly": False, "yearly": False}
    truth = daily_series(days=5).iloc[-PER_DAY:]
    frame = model.predict("1d")
    assert np.mean(np.abs(frame["yhat"].to_numpy() - truth.to_numpy())) < 0.6
    err = capfd.readouterr().err
    assert "cmdstanpy" not in err and "plotly" not in err.lower()


def test_band_level_follows_the_requested_interval():
    model = get_model("prophet").fit(daily_series(days=4))
    widths = [float((f["yhat_upper"] - f["yhat_lower"]).mean())
              for f in (model.predict("6h", interval=i) for i in (0.5, 0.8, 0.95, 0.99))]
    assert widths == sorted(widths) and widths[0] > 0
    assert widths[2] == pytest.approx(2 * 1.96 * 0.5, rel=0.35)  # ~ +-1.96 sigma of the noise


def test_overrides_and_native_json_state():
    model = get_model("prophet", daily=False).fit(daily_series(days=4))
    assert model.seasonalities_["daily"] is False
    state = model._dump_state()
    assert isinstance(state["model_"], str) and state["model_"].startswith("{")
    restored = load_model(model.to_bytes())
    pd.testing.assert_frame_equal(restored.predict("1h"), model.predict("1h"))
