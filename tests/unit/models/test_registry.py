"""The registry: names, lazy imports, clear errors, and the fallback to simpler models."""

from __future__ import annotations

import logging
import subprocess
import sys

import pandas as pd
import pytest

from promcast.errors import InputError, UnknownNameError
from promcast.models import fit_with_fallback, get_model, model_names, register
from promcast.models.registry import fallback_chain

from .conftest import daily_series


def test_the_documented_names():
    assert model_names() == ["prophet", "lstm", "iforest", "ensemble", "auto", "seasonal_naive", "mad", "holt_winters",
                             "knn", "artime", "cad_ose"]


def test_auto_is_the_default_forecaster():
    from promcast.config import ModelSettings
    from promcast.models import DEFAULT_FORECASTER, get_model_class

    assert DEFAULT_FORECASTER == "auto" == ModelSettings().default
    assert get_model_class(DEFAULT_FORECASTER).is_forecaster


def test_importing_the_package_loads_neither_tensorflow_nor_prophet():
    code = ("import sys, promcast.models as m; m.get_model('mad');"
            "print(sorted(k for k in ('tensorflow', 'prophet', 'keras', 'statsforecast') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_names_and_parameters_are_clear_errors():
    with pytest.raises(UnknownNameError, match="unknown model 'arima'; known models: prophet, lstm"):
        get_model("arima")
    with pytest.raises(InputError, match="unknown parameter.*'mad'.*known: season"):
        get_model("mad", seasonality=3)


def test_register_refuses_undeclared_names():
    with pytest.raises(ValueError, match="not declared"):
        register("arima")


def test_fallback_chain_of_prophet():
    assert fallback_chain("prophet") == ["prophet", "holt_winters", "seasonal_naive", "mad"]


def test_short_history_falls_back_with_a_warning_naming_why(caplog):
    short = daily_series().iloc[:5]
    with caplog.at_level(logging.WARNING, logger="promcast.models"):
        model = fit_with_fallback("prophet", short, changepoint_prior_scale=0.1)
    assert model.name == "seasonal_naive"
    assert "fell back from prophet to seasonal_naive" in model.fallback_reason_
    assert "needs at least 24 points" in caplog.text and "holt_winters" in caplog.text


def test_no_fallback_needed_keeps_the_named_model_and_its_parameters():
    model = fit_with_fallback("mad", daily_series(), slot="30m", warn=False)
    assert model.name == "mad" and model.slot == "30m" and model.fallback_reason_ is None


def test_a_single_point_ends_at_mad():
    one = daily_series().iloc[:1]
    assert fit_with_fallback("holt_winters", one, warn=False).name == "mad"


def test_nothing_to_fit_is_an_input_error_not_a_fallback():
    with pytest.raises(InputError, match="empty"):
        fit_with_fallback("prophet", pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype=float))
