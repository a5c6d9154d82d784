"""One registry of models by name, imported lazily, and fitting with a fallback to simpler models.

Model modules register themselves with :func:`register` when imported. The registry knows which
module holds each name, so ``import promcast.models`` stays cheap: TensorFlow is only imported by
``get_model("lstm")`` and Prophet only by ``get_model("prophet")``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any

import pandas as pd

from ..errors import InputError, UnknownNameError
from .base import InsufficientHistory, ModelFitError, PromcastModel, install_class_lookup

log = logging.getLogger("promcast.models")

#: registry name -> module that defines (and registers) it; the order is the documented order
MODULES: dict[str, str] = {
    "prophet": "promcast.models.prophet",
    "lstm": "promcast.models.lstm",
    "iforest": "promcast.models.iforest",
    "ensemble": "promcast.models.ensemble",
    "auto": "promcast.models.auto",
    "seasonal_naive": "promcast.models.seasonal_naive",
    "mad": "promcast.models.mad",
    "holt_winters": "promcast.models.holt_winters",
    "knn": "promcast.models.knn",
    "artime": "promcast.models.artime",
    "cad_ose": "promcast.models.cad_ose",
}
#: the forecaster used when none is named (CLI ``forecast``)
DEFAULT_FORECASTER = "auto"
#: the detector used when none is named (CLI ``detect``)
DEFAULT_DETECTOR = "ensemble"

_CLASSES: dict[str, type[PromcastModel]] = {}


def register(name: str):
    """Class decorator: make a model available as ``get_model(name)`` and set its ``name``."""
    if name not in MODULES:
        raise ValueError(f"model name {name!r} is not declared in registry.MODULES")

    def decorate(cls: type[PromcastModel]) -> type[PromcastModel]:
        cls.name = name
        _CLASSES[name] = cls
        return cls

    return decorate


def model_names() -> list[str]:
    """Every registered model name (whether or not its module has been imported yet)."""
    return list(MODULES)


def _unknown(name: str) -> UnknownNameError:
    return UnknownNameError(f"unknown model {name!r}; known models: {', '.join(model_names())}")


def get_model_class(name: str) -> type[PromcastModel]:
    """The class registered as ``name``, importing its module on first use."""
    if not isinstance(name, str) or name not in MODULES:
        raise _unknown(name)
    if name not in _CLASSES:
        importlib.import_module(MODULES[name])
        if name not in _CLASSES:  # pragma: no cover - a module that forgot @register
            raise ImportError(f"{MODULES[name]} does not register a model named {name!r}")
    return _CLASSES[name]


install_class_lookup(get_model_class)


def get_model(name: str, **params: Any) -> PromcastModel:
    """A new, unfitted model ``name`` with hyper-parameters ``params``.

    Unknown names raise :class:`UnknownNameError`, unknown parameters :class:`InputError`.
    """
    cls = get_model_class(name)
    known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    bad = sorted(set(params) - set(known))
    if bad:
        raise InputError(
            f"unknown parameter(s) {', '.join(bad)} for model {name!r}; "
            f"known: {', '.join(known) if known else 'none'}"
        )
    return cls(**params)


def fallback_chain(name: str) -> list[str]:
    """``name`` followed by the models it falls back to, simplest last."""
    chain = [name]
    while True:
        nxt = get_model_class(chain[-1]).fallback
        if nxt is None or nxt in chain:
            return chain
        chain.append(nxt)


def fit_with_fallback(name: str, series: pd.Series | pd.DataFrame, *, warn: bool = True, **params: Any) -> PromcastModel:
    """Fit model ``name``; when the history is too short for it, fit the next simpler model instead.

    The returned model's ``fallback_reason_`` is ``None`` or says which model was replaced and why
    (also logged as a warning unless ``warn`` is false). ``params`` go to the named model only;
    fallbacks use their defaults, keeping ``seed`` when they accept it. Raises the last model's error
    when even the simplest model cannot fit (e.g. an empty series).
    """
    chain = fallback_chain(name)
    reasons: list[str] = []
    for i, current in enumerate(chain):
        if i == 0:
            model = get_model(current, **params)
        else:
            model = get_model_class(current)()
            if "seed" in params and "seed" in model.get_params():
                model.set_params(seed=params["seed"])
        try:
            model.fit(series)
        except (InsufficientHistory, ModelFitError) as exc:
            if i == len(chain) - 1:
                raise
            reasons.append(f"{current}: {exc}")
            continue
        model.fallback_reason_ = None
        if reasons:
            model.fallback_reason_ = f"fell back from {name} to {current} because " + "; ".join(reasons)
            if warn:
                log.warning("%s", model.fallback_reason_)
        return model
    raise AssertionError("unreachable")  # pragma: no cover
