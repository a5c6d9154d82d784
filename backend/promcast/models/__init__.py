"""Forecasting and anomaly models behind one contract (see :mod:`.base`) and one registry.

Importing this package is cheap: model modules (and TensorFlow, Prophet) load on first use through
:func:`get_model`.
"""

from .base import (
    FORECAST_COLUMNS,
    Forecaster,
    InsufficientHistory,
    ModelFitError,
    PromcastModel,
    forecast_frame,
    interval_z,
    tail_score,
)
from .registry import (
    DEFAULT_DETECTOR,
    DEFAULT_FORECASTER,
    fit_with_fallback,
    get_model,
    get_model_class,
    model_names,
    register,
)


def load_model(data: bytes) -> PromcastModel:
    """Rebuild any fitted model from ``model.to_bytes()`` output."""
    return PromcastModel.from_bytes(data)


__all__ = [
    "DEFAULT_DETECTOR", "DEFAULT_FORECASTER", "FORECAST_COLUMNS", "Forecaster", "InsufficientHistory",
    "ModelFitError", "PromcastModel", "fit_with_fallback", "forecast_frame", "get_model", "get_model_class",
    "interval_z", "load_model", "model_names", "register", "tail_score",
]
