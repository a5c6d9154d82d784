"""``prophet``: Prophet forecaster with seasonalities chosen from the data and a fast residual band.

Speed (measured, see the module's tests and the report in issue 3): Prophet's cost is Stan's
optimisation, roughly linear in points, and its default 1,000 uncertainty samples, which make
``predict`` of one day at 1m take ~0.3-0.5 s. So the fit runs on at most ``max_fit_points`` averaged
points (a week at 1m becomes 5m bins: ~0.15-0.35 s instead of ~1 s) with ``uncertainty_samples=0``,
and the band comes from the residual distribution at the data's own step (:class:`.base.Forecaster`),
which also calibrates the anomaly score.

Accuracy on the NAB AWS series (1-day rolling-origin backtest, see the report in issue 3): two
choices matter. ``outlier_z``: points more than 5 robust standard deviations off the first fit are
anomalies; they are dropped and Prophet is fitted again, so they do not bend trend and seasonality.
``level_window``: forecasts start from the median residual of the last 2 hours (at least 12 steps),
so a recent level shift (which Prophet's changepoints, placed in the first 80% of the history,
cannot follow) carries into the forecast. Together they cut the mean MASE from 1.79 to 1.26 and the
MAE relative to the 1-day seasonal naive from 2.5 to 0.87, with 95% bands covering 91%.

Seasonality is only modelled when the history can identify it: daily with >= 2 days of data sampled
at most hourly, weekly with >= 2 weeks sampled at most daily, yearly with >= 2 years.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .base import Forecaster, ModelFitError, robust_scale, to_timedelta
from .registry import register

_DAY = pd.Timedelta(days=1)


def _quiet_logs() -> None:
    """Prophet and cmdstanpy log every fit at INFO (and a plotly warning at import): keep them quiet."""
    for name, level in (("cmdstanpy", logging.WARNING), ("prophet", logging.WARNING),
                        ("prophet.plot", logging.CRITICAL)):
        logging.getLogger(name).setLevel(level)


def _import_prophet():
    _quiet_logs()
    from cmdstanpy.utils.logging import get_logger
    from prophet import Prophet

    get_logger()  # creates cmdstanpy's logger at DEBUG once (cached); then lower it for good
    _quiet_logs()
    return Prophet


def choose_seasonalities(span: pd.Timedelta, step: pd.Timedelta) -> dict[str, bool]:
    """Which seasonalities the history can identify (two full cycles, enough points per cycle)."""
    return {
        "daily": span >= 2 * _DAY and step <= pd.Timedelta(hours=1),
        "weekly": span >= 14 * _DAY and step <= _DAY,
        "yearly": span >= 730 * _DAY and step <= 7 * _DAY,
    }


# importing this module is what ``get_model("prophet")`` does: load Prophet now, not in the first fit
_import_prophet()


def _naive_utc(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(index).tz_convert("UTC").tz_localize(None)


@register("prophet")
class ProphetModel(Forecaster):
    """Prophet (``prophet`` package) with the fast band; ``daily``/``weekly``/``yearly`` may be
    ``"auto"`` (chosen by :func:`choose_seasonalities`) or a bool."""

    min_points: ClassVar[int] = 24
    fallback: ClassVar[str | None] = "holt_winters"
    max_fit_points: ClassVar[int | None] = 2000

    def __init__(
        self,
        changepoint_prior_scale: float = 0.05,
        seasonality_prior_scale: float = 10.0,
        seasonality_mode: str = "additive",
        changepoint_range: float = 0.8,
        level_window: str | None = "2h",
        outlier_z: float | None = 5.0,
        daily: Any = "auto",
        weekly: Any = "auto",
        yearly: Any = "auto",
        seed: int = 0,
    ):
        self.changepoint_prior_scale = changepoint_prior_scale
        self.seasonality_prior_scale = seasonality_prior_scale
        self.seasonality_mode = seasonality_mode
        self.changepoint_range = changepoint_range
        self.level_window = level_window
        self.outlier_z = outlier_z
        self.daily = daily
        self.weekly = weekly
        self.yearly = yearly
        self.seed = seed

    def _fit(self, y: pd.Series) -> None:
        span = self.last_timestamp_ - self.first_timestamp_
        auto = choose_seasonalities(span, self.step_)
        self.seasonalities_ = {k: (auto[k] if v == "auto" else bool(v))
                               for k, v in (("daily", self.daily), ("weekly", self.weekly), ("yearly", self.yearly))}
        values = y.to_numpy(dtype=float)
        self.offset_ = 0.0
        self.model_ = self._fit_prophet(y.index, values)
        resid = values - self._predict_mean(y.index)
        if self.outlier_z is not None:
            # anomalies in the history must not bend the fit: drop far outliers and fit again
            z = (resid - np.median(resid)) / robust_scale(resid, level=float(np.median(values)))
            outliers = np.abs(z) > float(self.outlier_z)
            if outliers.any() and not outliers.all():
                self.model_ = self._fit_prophet(y.index, np.where(outliers, np.nan, values))
                resid = values - self._predict_mean(y.index)
        if self.level_window:
            # forecasts start from the recent level (a level shift near the end of the history)
            window = max(to_timedelta(self.level_window, what="level_window"), 12 * self.fit_step_)
            recent = y.index > y.index[-1] - window
            self.offset_ = float(np.median(resid[recent]))
        self._learn_residuals(resid, level=float(np.median(values)))

    def _fit_prophet(self, index: pd.DatetimeIndex, values: np.ndarray):
        Prophet = _import_prophet()
        chosen = self.seasonalities_
        model = Prophet(
            growth="linear",
            changepoint_prior_scale=float(self.changepoint_prior_scale),
            seasonality_prior_scale=float(self.seasonality_prior_scale),
            seasonality_mode=self.seasonality_mode,
            changepoint_range=float(self.changepoint_range),
            daily_seasonality=chosen["daily"],
            weekly_seasonality=chosen["weekly"],
            yearly_seasonality=chosen["yearly"],
            uncertainty_samples=0,
        )
        frame = pd.DataFrame({"ds": _naive_utc(index), "y": values})
        np.random.seed(int(self.seed) % (2**32))
        try:
            model.fit(frame, seed=int(self.seed) % (2**31))
        except (RuntimeError, ValueError) as exc:
            raise ModelFitError(f"prophet could not fit this history: {exc}") from exc
        return model

    def _predict_mean(self, index: pd.DatetimeIndex) -> np.ndarray:
        future = pd.DataFrame({"ds": _naive_utc(index)})
        out = self.model_.predict(future)["yhat"].to_numpy(dtype=float)
        return np.where(index > self.last_timestamp_, out + self.offset_, out)

    def _dump_state(self) -> dict[str, Any]:
        from prophet.serialize import model_to_json

        state = super()._dump_state()
        state["model_"] = model_to_json(state["model_"])
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        _import_prophet()
        from prophet.serialize import model_from_json

        state = dict(state)
        state["model_"] = model_from_json(state["model_"])
        super()._load_state(state)
