"""``capacity``: when does the load outgrow ``capacity``, and how much is needed?

``expr`` selects the load (``sum(rate(http_requests_total[5m]))``), ``capacity`` what the system
can take (same unit; ``5k`` works), ``headroom`` the fraction kept free (0.2) and ``horizon`` how far
to plan (30d). :class:`~promcast.maintenance.CapacityPlanner` forecasts the load with ``model``
(Prophet unless told otherwise); the table has ``peak_forecast, recommended_capacity, scale_up_date,
scale_down_date`` and, with ``unit_cost`` (per ``cost_period``, default 30d), ``current_cost,
recommended_cost, monthly_delta`` per series, the earliest scale-up first, and each series gets ``load``, its ``projection`` (the
forecast), its ``upper projection`` (the band's upper edge, which the plan uses) and its ``limit``
(capacity less headroom: the scale-up date is where the upper projection first reaches it).
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from ...errors import InputError
from ...kinds.registry import CAPACITY as CAPACITY_KIND
from ...models import get_model_class
from ..request import Payload, cap_duration
from .base import LEGEND, PayloadField, QueryContext
from .maintenance import HISTORY, MaintenanceTarget, Window

#: the model a plan forecasts with unless payload.model says otherwise
DEFAULT_MODEL = CAPACITY_KIND.param("model").default
DEFAULT_HORIZON = CAPACITY_KIND.param("horizon").default
MAX_HORIZON = pd.Timedelta("365D")

LOAD_EXPR = PayloadField("expr", "Load", "input", "sum(rate(http_requests_total[5m])) (PromQL)", 60)
CAPACITY = PayloadField("capacity", "Capacity", "input", "5000 (load the system can take, same unit)", 16)
HEADROOM = PayloadField("headroom", "Headroom", "input", "0.2 (fraction of capacity kept free)", 12)
HORIZON = PayloadField("horizon", "Horizon", "input", f"{DEFAULT_HORIZON} (plan this far ahead)", 12)
MODEL = PayloadField("model", "Model", "select", f"{DEFAULT_MODEL} (forecaster)", 20)
UNIT_COST = PayloadField("unit_cost", "Unit cost", "input", "12.5 (price of one unit of capacity per cost period)", 16)
COST_PERIOD = PayloadField("cost_period", "Cost period", "input", "30d (the period unit_cost is for)", 12)


class Capacity(MaintenanceTarget):
    name = CAPACITY_KIND.target
    label = "Capacity plan (scale-up date)"
    fields = (LOAD_EXPR, CAPACITY, HEADROOM, HORIZON, MODEL, HISTORY, LEGEND, UNIT_COST, COST_PERIOD)
    kind = CAPACITY_KIND
    usage_name = "load"

    def options(self, ctx: QueryContext, payload: Payload, notices: list[dict]) -> dict[str, Any]:
        param = CAPACITY_KIND.param
        capacity = payload.read(param("capacity"))
        if capacity is None:
            raise InputError("payload.capacity is required: the load the system can take, e.g. 5000")
        headroom = payload.read(param("headroom"))
        horizon = cap_duration(payload, "horizon", payload.read(param("horizon")), MAX_HORIZON, notices,
                               pd.Timedelta("1h"))
        model = payload.read(param("model"))
        if not get_model_class(model).is_forecaster:
            raise InputError(f"model {model!r} does not forecast: a capacity plan needs a forecaster such as "
                             "prophet or holt_winters")
        options = {"capacity": capacity, "headroom": headroom, "horizon": horizon, "model": model}
        unit_cost = payload.read(param("unit_cost"))
        if unit_cost is not None:
            options["unit_cost"] = unit_cost
            options["cost_period"] = cap_duration(payload, "cost_period", payload.read(param("cost_period")),
                                                  MAX_HORIZON, notices, pd.Timedelta("1h"))
        return options

    def histories(self, ctx: QueryContext, expr: str, window: Window, options: Mapping[str, Any]):
        series = window.fetch(ctx, expr)
        return series, dict(options)

    def projection(self, prediction, ctx: QueryContext) -> dict[str, pd.Series]:
        forecast = prediction.projection()
        return {"projection": forecast["yhat"], "upper projection": forecast["yhat_upper"]}

    def limit_of(self, prediction) -> float:
        return float(prediction.predictor.threshold_)
