"""When do we need more capacity, and how much?

:class:`CapacityPlanner` forecasts the load over a horizon with a registry model (Prophet by
default: daily and weekly seasonality plus a trend), then plans against the *upper* band of that
forecast, because capacity has to cover the busy hours we are not sure about, not the average:

- ``peak_forecast``: the highest upper-band value over the horizon;
- ``recommended_capacity = peak_forecast * (1 + headroom)``;
- ``scale_up_date``: the first time the upper band reaches ``capacity * (1 - headroom)`` (the
  headroom is kept free), ``None`` when it never does within the horizon. When the latest observed
  load is already above that line, it is the time of the latest sample: scale up now.

With Prophet, unless ``model_params`` say otherwise, seasonality is multiplicative (when traffic grows
by 30 %, its busy hours grow by 30 % too; an additive daily cycle plans for too little) and the trend
is stiffer than Prophet's default (``changepoint_prior_scale=0.01``: a plan weeks ahead should not
follow the last few days' wiggle). On the benchmark's growing loads this halved the error of
``scale_up_date`` with 14 days of history and cut missed crossings from 13 of 30 to 3.

Scaling down and money: ``scale_down_date`` is the first time from which the upper band plus
headroom stays at or below ``scale_down_below * capacity`` (default 0.7: at least 30 % of what is
paid for would sit idle at the forecast peak) until the horizon's end; the time of the latest sample
when that holds already (scale down now), null when the horizon's end still needs more. A load that
drops later in the horizon gets that later date (when the lower level lasts a week, or half the
horizon if shorter: the quiet hours after the last busy peak are no drop), so scaling down is
recommended only once it is safe. With
``unit_cost`` (price of one unit of capacity per ``cost_period``) the plan reports
``current_cost``, ``recommended_cost`` (both per 30 days, the month of cloud bills) and
``monthly_delta = recommended_cost - current_cost`` (negative: a saving); without it they are null.

The forecast is made at the history's step for short horizons and at an hourly step (or coarser,
at most ~3000 points) for long ones: a daily step would miss the busy hours it plans for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..errors import InputError
from ..models import fit_with_fallback
from ..validation import HEADROOM
from .inputs import as_duration, bin_stat, iso, positive_number, sampling_step, usage_series

#: fields of ``promcast predict capacity`` (the design's JSON contract), in order
CAPACITY_FIELDS = ("peak_forecast", "recommended_capacity", "scale_up_date", "scale_down_date", "current_cost",
                   "recommended_cost", "monthly_delta")
#: costs are reported per 30 days whatever the price's period
MONTH = pd.Timedelta(days=30)

_MAX_FORECAST_POINTS = 3000
#: load grows with its busy hours: seasonality scales with the trend (unless model_params say otherwise)
#: capacity plans extrapolate growth: Prophet keeps its linear trend here even where the default
#: forecaster's ``growth="auto"`` would flatten a noisy one
_DEFAULT_PARAMS = {"prophet": {"seasonality_mode": "multiplicative", "changepoint_prior_scale": 0.01,
                               "growth": "linear"}}


class CapacityPlanner(BaseEstimator):
    """Plan capacity for a load series against ``capacity`` (same unit as the load).

    Fitted attributes: ``forecast_`` (DataFrame ``yhat, yhat_lower, yhat_upper`` over the horizon),
    ``peak_forecast_``, ``recommended_capacity_``, ``scale_up_date_`` (Timestamp or None),
    ``threshold_`` (``capacity * (1 - headroom)``), ``model_`` (the fitted forecaster),
    ``model_name_`` (the model actually used: a short history falls back to a simpler one) and
    ``fallback_reason_``.
    """

    def __init__(self, capacity: float, headroom: float = 0.2, horizon: str = "30d", model: str = "prophet", *,
                 interval: float = 0.95, min_history: str = "1d", model_params: dict | None = None,
                 unit_cost: float | None = None, cost_period: str = "30d", scale_down_below: float = 0.7):
        self.capacity = capacity
        self.headroom = headroom
        self.horizon = horizon
        self.model = model
        self.interval = interval
        self.min_history = min_history
        self.model_params = model_params
        self.unit_cost = unit_cost
        self.cost_period = cost_period
        self.scale_down_below = scale_down_below

    def fit(self, series: pd.Series) -> "CapacityPlanner":
        """Forecast ``series`` (load over time) and plan; returns ``self``."""
        capacity = positive_number(self.capacity, what="capacity")
        headroom = HEADROOM.check(self.headroom)
        horizon = as_duration(self.horizon, what="horizon")
        monthly_price = self.monthly_price()
        below = _fraction(self.scale_down_below, "scale_down_below")
        values = usage_series(series, what="load series", min_history=self.min_history)
        params = self.model_params
        if params is None:
            params = _DEFAULT_PARAMS.get(self.model, {})
        last = values.index[-1]
        step = sampling_step(values)
        if horizon > pd.Timedelta(days=2):
            step = max(step, pd.Timedelta("1h"))
        step = max(step, pd.Timedelta(horizon / _MAX_FORECAST_POINTS).ceil("1min"))
        fit_on = values
        if step > sampling_step(values):
            # plan on the forecast's own step: hourly means for weeks ahead (the busy hours stay
            # visible, and the trend does not chase minute-level noise)
            fit_on = bin_stat(values, step)
            fit_on.index = fit_on.index - step / 2
        model = fit_with_fallback(self.model, fit_on, warn=False, **params)
        index = pd.date_range(last + step, last + horizon, freq=step)
        if not len(index):
            index = pd.DatetimeIndex([last + horizon])
        forecast = model.predict_at(index, self.interval)
        forecast = forecast.clip(lower=0.0)
        self.model_ = model
        self.model_name_ = model.name
        self.fallback_reason_ = getattr(model, "fallback_reason_", None)
        self.forecast_ = forecast
        self.last_timestamp_ = last
        self.current_load_ = float(values.iloc[-1])
        self.threshold_ = capacity * (1.0 - headroom)
        upper = forecast["yhat_upper"].to_numpy(dtype=float)
        self.peak_forecast_ = float(np.max(upper))
        self.recommended_capacity_ = self.peak_forecast_ * (1.0 + headroom)
        if self.current_load_ >= self.threshold_:
            self.scale_up_date_ = last
        else:
            hit = np.flatnonzero(upper >= self.threshold_)
            self.scale_up_date_ = forecast.index[hit[0]] if len(hit) else None
        self.scale_down_date_ = _scale_down_date(upper * (1.0 + headroom), self.current_load_ * (1.0 + headroom),
                                                 below * capacity, forecast.index, last)
        if monthly_price is None:
            self.current_cost_ = self.recommended_cost_ = self.monthly_delta_ = None
        else:
            self.current_cost_ = capacity * monthly_price
            self.recommended_cost_ = self.recommended_capacity_ * monthly_price
            self.monthly_delta_ = self.recommended_cost_ - self.current_cost_
        return self

    def monthly_price(self) -> float | None:
        """Price of one unit of capacity per 30 days, None without ``unit_cost``."""
        if self.unit_cost is None:
            return None
        try:
            price = float(self.unit_cost)
        except (TypeError, ValueError):
            price = float("nan")
        if not np.isfinite(price) or price < 0:
            raise InputError(f"bad unit cost {self.unit_cost!r}: expected a price of 0 or more per unit of capacity")
        period = as_duration(self.cost_period, what="cost period")
        if period <= pd.Timedelta(0):
            raise InputError(f"bad cost period {self.cost_period!r}: expected a duration such as 30d or 1h")
        return price * (MONTH / period)

    def result(self) -> dict:
        """The design's JSON fields: ``peak_forecast, recommended_capacity, scale_up_date``."""
        if not hasattr(self, "forecast_"):
            raise NotFittedError("CapacityPlanner is not fitted yet; call fit(series) first")
        return {
            "peak_forecast": _round(self.peak_forecast_),
            "recommended_capacity": _round(self.recommended_capacity_),
            "scale_up_date": iso(self.scale_up_date_),
            "scale_down_date": iso(self.scale_down_date_),
            "current_cost": _money(self.current_cost_),
            "recommended_cost": _money(self.recommended_cost_),
            "monthly_delta": _money(self.monthly_delta_),
        }

    def projection(self) -> pd.DataFrame:
        """The forecast over the horizon (``yhat, yhat_lower, yhat_upper``), for plots and panels."""
        if not hasattr(self, "forecast_"):
            raise NotFittedError("CapacityPlanner is not fitted yet; call fit(series) first")
        return self.forecast_.copy()


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def _money(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _fraction(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 < number <= 1.0:
        raise InputError(f"bad {what} {value!r}: expected a fraction in (0, 1], e.g. 0.7")
    return number


def _scale_down_date(needed: np.ndarray, needed_now: float, line: float, index: pd.DatetimeIndex,
                     last: pd.Timestamp) -> pd.Timestamp | None:
    """First time from which ``needed`` (upper band plus headroom) stays at or below ``line`` to the end.

    ``last`` when the load needs no more than ``line`` already, None when the end of the horizon still does.
    """
    over = np.flatnonzero(needed > line)
    if not len(over):
        return last if needed_now <= line else index[0]
    if over[-1] + 1 >= len(index):
        return None
    start = index[over[-1] + 1]
    # the lower level must hold for a whole cycle: a week, or half the horizon when that is shorter
    # (else the quiet hours after the horizon's last busy peak would read as a drop)
    if index[-1] - start < min(pd.Timedelta(days=7), (index[-1] - last) / 2):
        return None
    return start
