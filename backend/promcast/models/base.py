"""The model contract shared by every forecaster and detector.

Models follow scikit-learn's estimator conventions: ``__init__`` stores hyper-parameters only (so
``get_params``/``clone`` work), ``fit(series)`` returns ``self`` and learned state lives in attributes
ending in ``_``. Input is a float pandas Series indexed by timestamps (multi-series models also take a
DataFrame, one column per series); :mod:`.prepare` cleans it, so models never see NaNs, duplicates
or an irregular grid when fitting.

What a model implements (template methods; the public methods do the cleaning and checks):

- ``_fit(y)``: ``y`` is a regular, gap-free Series (DataFrame for ``multivariate`` models) at
  ``self.fit_step_``. Before it runs, ``fit`` has set ``step_``, ``fit_step_``, ``first_timestamp_``,
  ``last_timestamp_`` and ``n_points_``. Raise :class:`InsufficientHistory` when ``y`` is too short
  in a way ``min_points`` cannot express; :func:`.registry.fit_with_fallback` then falls back.
- Forecasters: ``_predict_mean(index) -> ndarray`` (the point forecast at any timestamps, in-sample
  or future) and call ``self._learn_residuals(actual - fitted)`` at the end of ``_fit``. Bands,
  ``predict``, ``predict_at`` and a calibrated causal ``score`` come for free; override
  ``_expected(x)`` when the expectation should use the scored series' own past values (seasonal
  naive), or ``_band`` for horizon-dependent bands.
- Detectors that do not forecast: ``_score(x) -> Series`` aligned to ``x.index``; ``x`` is cleaned,
  sorted, unique and forward-filled. Row ``i``'s score may use the fitted state and rows ``<= i`` of
  ``x`` only (causal), so walk-forward runs are comparable with NAB. ``score_context()`` says how
  many preceding rows a score looks at (the walk-forward driver passes that much context).

Conventions: a random model takes a ``seed`` hyper-parameter (default 0) and is deterministic for
a given input; ``fast_params`` are cheap settings for the conformance suite and quick benchmarks.
Fitted models serialise natively with ``to_bytes``/``from_bytes`` (``save``/``load`` for files):
override ``_dump_state``/``_load_state`` to store non-picklable parts in their native format
(Prophet JSON, Keras ``.keras`` bytes). The bytes are a pickle: load only models you stored.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
import zlib
from datetime import timedelta
from typing import Any, ClassVar

import joblib
import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..errors import InputError
from .prepare import FitData, prepare_fit, prepare_score, utc_index

FORECAST_COLUMNS = ("yhat", "yhat_lower", "yhat_upper")
#: probabilities at which the residual distribution is stored (for empirical bands)
RESIDUAL_PROBS = np.concatenate([[0.0005, 0.001, 0.0025], np.linspace(0.005, 0.995, 199), [0.9975, 0.999, 0.9995]])
#: residuals re-learnt after a downsampled fit are computed on at most this many points
_RESIDUAL_SAMPLE = 5_000
_MAGIC = b"promcast-model\n"
#: 2: pickle (protocol 5) + zlib level 1, ~10x faster to write than 1 (joblib's pure-Python pickler
#: with compress=3), which mattered at fleet scale (a quarter of a ``mad`` fit); 1 is still read
_FORMAT = 2
_READABLE_FORMATS = (1, 2)


class InsufficientHistory(InputError):
    """The history is too short (or too flat) for this model; a simpler model may still work."""


class ModelFitError(InputError):
    """The model could not be fitted on this history (e.g. the optimiser failed)."""


def forecast_frame(index: pd.DatetimeIndex, yhat, lower, upper) -> pd.DataFrame:
    """Build the Forecast value: a DataFrame indexed by timestamp with ``yhat, yhat_lower, yhat_upper``.

    The band is made to contain ``yhat`` (``lower <= yhat <= upper``) whatever the model computed.
    """
    frame = pd.DataFrame(
        {"yhat": np.asarray(yhat, dtype=float), "yhat_lower": np.asarray(lower, dtype=float),
         "yhat_upper": np.asarray(upper, dtype=float)},
        index=pd.DatetimeIndex(index, name="timestamp"),
    )
    frame["yhat_lower"] = np.fmin(frame["yhat_lower"], frame["yhat"])
    frame["yhat_upper"] = np.fmax(frame["yhat_upper"], frame["yhat"])
    return frame


def tail_score(z: np.ndarray | pd.Series) -> np.ndarray:
    """Map standardised residuals to [0, 1]: the two-sided tail probability's complement, 2*Phi(|z|)-1.

    Scores from different models are comparable because each uses its own residual scale:
    |z| = 1.96 scores 0.95 whichever model produced it. NaN scores 0.
    """
    z = np.abs(np.nan_to_num(np.asarray(z, dtype=float), nan=0.0, posinf=1e6, neginf=1e6))
    return np.clip(2.0 * norm.cdf(z) - 1.0, 0.0, 1.0)


def interval_z(interval: float) -> float:
    """Half-width in standard deviations of a central ``interval`` (0.95 -> 1.96)."""
    try:
        value = float(interval)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise InputError(f"bad interval {interval!r}: expected a probability between 0 and 1, e.g. 0.95")
    return float(norm.ppf(0.5 + value / 2.0))


def robust_scale(residuals, level: float = 0.0) -> float:
    """A robust standard deviation of ``residuals``: 1.4826 * MAD, never zero.

    Falls back to the mean absolute deviation, then the standard deviation, when over half the
    residuals are identical (MAD 0), and finally to a tiny floor relative to the series' ``level``, so a
    flat series gets a near-zero scale (any change is then anomalous) rather than a division by zero.
    """
    r = np.asarray(residuals, dtype=float)
    r = r[np.isfinite(r)]
    floor = 1e-9 + 1e-6 * abs(float(level) if np.isfinite(level) else 0.0)
    if not len(r):
        return floor
    centre = np.median(r)
    for scale in (1.4826 * np.median(np.abs(r - centre)), 1.2533 * np.mean(np.abs(r - centre)), np.std(r)):
        if scale > floor:
            return float(scale)
    return floor


def to_timedelta(value: timedelta | pd.Timedelta | str | int | float, *, what: str = "duration") -> pd.Timedelta:
    """Accept ``"1d"``, a timedelta or seconds; raise :class:`InputError` otherwise."""
    if isinstance(value, (timedelta, pd.Timedelta)):
        td = pd.Timedelta(value)
        if td <= pd.Timedelta(0):
            raise InputError(f"bad {what} {value!r}: must be positive")
        return td
    from ..durations import parse_duration

    return pd.Timedelta(parse_duration(value, what=what))


#: name -> model class, installed by :mod:`.registry` when it loads (it imports this module, so this
#: module must not import it back)
_model_class: Any = None


def install_class_lookup(lookup) -> None:
    """Let :meth:`PromcastModel.from_bytes` find any registered model class by name."""
    global _model_class
    _model_class = lookup


class PromcastModel(BaseEstimator):
    """Common base: input cleaning, fitted-state checks, scoring template and serialisation."""

    #: registry name, e.g. "prophet" (set by :func:`.registry.register`)
    name: ClassVar[str] = ""
    #: fewest observed points ``fit`` accepts; :func:`.registry.fit_with_fallback` falls back below it
    min_points: ClassVar[int] = 1
    #: registry name of the simpler model to fall back to when the history is too short (None: give up)
    fallback: ClassVar[str | None] = None
    #: longest grid ``_fit`` receives; longer histories are averaged into coarser bins (None: no limit)
    max_fit_points: ClassVar[int | None] = 200_000
    #: whether ``fit``/``score`` take a DataFrame of several series scored jointly
    multivariate: ClassVar[bool] = False
    is_forecaster: ClassVar[bool] = False
    is_detector: ClassVar[bool] = True
    #: learns from every row it scores (walk-forward fits it once; see :mod:`.online`)
    online: ClassVar[bool] = False
    #: alert threshold chosen on training folds by ``promcast evaluate --cv 4`` (None: Gaussian tail
    #: scores, thresholded at ``2*Phi(z)-1``); see :func:`.calibration.alert_threshold`
    cv_threshold: ClassVar[float | None] = None
    #: cheap hyper-parameters for the conformance suite and quick benchmarks
    fast_params: ClassVar[dict[str, Any]] = {}
    #: hyper-parameters for an instance that only scores (walk-forward ``detect``, NAB): they drop what
    #: scoring never uses (the ensemble's forecast members) without changing a single score
    score_only_params: ClassVar[dict[str, Any]] = {}

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, series: pd.Series | pd.DataFrame) -> "PromcastModel":
        """Learn from ``series`` (cleaned and regularised first); returns ``self``."""
        data = prepare_fit(self._check_shape(series), max_points=self.max_fit_points)
        if data.n_points < self.min_points:
            raise InsufficientHistory(
                f"model {self.name!r} needs at least {self.min_points} points of history, got {data.n_points}"
            )
        self.step_ = data.step
        self.fit_step_ = data.fit_step
        self.first_timestamp_ = data.first_timestamp
        self.last_timestamp_ = data.last_timestamp
        self.n_points_ = data.n_points
        self.notes_ = list(data.notes)
        self._fit(data.values)
        self._after_fit(data)
        return self

    def _after_fit(self, data: FitData) -> None:
        """Hook run after ``_fit`` with the full preparation (e.g. the grid before downsampling)."""

    def _fit(self, y: pd.Series | pd.DataFrame) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_shape(self, series):
        if isinstance(series, pd.DataFrame) and not self.multivariate:
            if series.shape[1] == 1:
                return series.iloc[:, 0]
            raise InputError(
                f"model {self.name!r} takes one series at a time, got {series.shape[1]}; "
                "use iforest to score several series jointly"
            )
        return series

    # ---- scoring -------------------------------------------------------------------------------
    def score(self, series: pd.Series | pd.DataFrame) -> pd.Series:
        """Causal anomaly score in [0, 1] for every row of ``series``, indexed like ``series``.

        Rows without a value score 0; duplicated timestamps share one score.
        """
        self._check_fitted()
        series = self._check_shape(series)
        filled, observed = prepare_score(series)
        scores = pd.Series(0.0, index=observed.index)
        if len(filled):
            raw = pd.Series(np.asarray(self._score(filled), dtype=float), index=filled.index)
            raw = raw.clip(0.0, 1.0).fillna(0.0)
            scores.loc[raw.index] = raw.to_numpy()
        scores[~observed] = 0.0
        index = clean_index(series.index)
        out = pd.Series(scores.reindex(index).fillna(0.0).to_numpy(), index=series.index, name="anomaly_score")
        return out

    def _score(self, x: pd.Series | pd.DataFrame) -> pd.Series:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_context(self) -> int:
        """How many rows before a row its score looks at (0: fitted state and the row itself only)."""
        return 0

    # ---- fitted state --------------------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "last_timestamp_")

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(series) first")

    # ---- serialisation -------------------------------------------------------------------------
    def _dump_state(self) -> dict[str, Any]:
        """Fitted state as picklable plain values; override to store native formats (JSON, .keras)."""
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def _load_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`_dump_state`."""
        for key, value in state.items():
            setattr(self, key, value)

    def to_bytes(self) -> bytes:
        """Serialise the fitted model: a JSON header (model name, hyper-parameters) and its state.

        The header is for people and tools (``read_header``); the payload carries the exact
        hyper-parameters and :meth:`_dump_state`, so tuples and other non-JSON values survive.
        """
        self._check_fitted()
        params = self.get_params(deep=False)
        header = json.dumps(
            {"format": _FORMAT, "model": self.name, "params": params}, sort_keys=True, default=repr
        ).encode()
        payload = zlib.compress(pickle.dumps({"params": params, "state": self._dump_state()}, protocol=5), 1)
        return _MAGIC + len(header).to_bytes(4, "big") + header + payload

    @classmethod
    def from_bytes(cls, data: bytes) -> "PromcastModel":
        """Rebuild a fitted model from :meth:`to_bytes` output (any registered model)."""
        header, payload = _split(data)
        name = header["model"]
        klass = _model_class(name)
        if not issubclass(klass, cls):
            raise InputError(f"stored model is {name!r}, not a {cls.__name__}")
        try:
            if header["format"] == 1:
                content = joblib.load(io.BytesIO(payload))
            else:
                content = pickle.loads(zlib.decompress(payload))
        except Exception as exc:  # a truncated or foreign payload: say so, not a pickle traceback
            raise InputError(f"stored {name!r} model is corrupt or from another version: {exc}") from exc
        model = klass(**content["params"])
        model._load_state(content["state"])
        return model

    def save(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_bytes` to ``path`` atomically (temp file + rename)."""
        data = self.to_bytes()
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".model-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PromcastModel":
        """Read a model written by :meth:`save`."""
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise InputError(f"cannot read stored model {os.fspath(path)!r}: {exc.strerror}") from exc
        return cls.from_bytes(data)


def read_header(data: bytes) -> tuple[str, dict[str, Any], bytes]:
    """Split serialised bytes into ``(model name, hyper-parameters, state payload)``."""
    header, payload = _split(data)
    return header["model"], header["params"], payload


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    """``(header, state payload)`` of serialised bytes; the header's format is one this promcast reads."""
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 4:
        raise InputError("not a stored promcast model (bad header)")
    start = len(_MAGIC) + 4
    size = int.from_bytes(data[len(_MAGIC):start], "big")
    try:
        header = json.loads(data[start:start + size])
    except ValueError as exc:
        raise InputError("not a stored promcast model (unreadable header)") from exc
    if header.get("format") not in _READABLE_FORMATS:
        raise InputError(f"stored model has format {header.get('format')!r}; this promcast reads "
                         f"{', '.join(map(str, _READABLE_FORMATS))}")
    return header, data[start + size:]


def clean_index(index: pd.Index) -> pd.DatetimeIndex:
    """``index`` as tz-aware UTC timestamps (naive ones read as UTC), order kept."""
    return utc_index(index, "series")


class Forecaster(PromcastModel):
    """A model that forecasts; its band and anomaly score come from its residual distribution.

    ``_learn_residuals`` stores the residuals' median (``resid_center_``, a bias), a robust scale
    (``resid_scale_``, MAD-based) for scores and their quantiles (``resid_quantiles_``) for bands. A
    band at level ``interval`` spans the wider of the empirical residual quantiles and the Gaussian
    ``center +- z * resid_scale_`` on each side, so heavy tails widen it and few residuals cannot make
    it implausibly narrow. Scores are ``tail_score((actual - yhat - center) / scale)`` (Gaussian), the
    meaning the service's ``sensitivity`` assumes. Residuals are heavy-tailed, so on NAB's real series
    12-20% of ordinary rows score above 0.99 this way; the empirical tail probability among the fit's
    residuals (:class:`.calibration.EmpiricalTail`, as lstm uses) was measured too and did not help
    on its own (NAB standard: prophet 0.0 either way, seasonal_naive 3.2), because a one-step
    residual detector needs onset emphasis (:mod:`.postprocess`) to score at all; the ensemble has it.
    """

    is_forecaster: ClassVar[bool] = True

    def predict(self, horizon: timedelta | pd.Timedelta | str, interval: float = 0.95) -> pd.DataFrame:
        """Forecast ``horizon`` past the end of the fitted history at the fitted step."""
        self._check_fitted()
        horizon = to_timedelta(horizon, what="horizon")
        steps = max(1, int(np.ceil(horizon / self.step_ - 1e-9)))
        index = self.last_timestamp_ + self.step_ * np.arange(1, steps + 1)
        return self.predict_at(pd.DatetimeIndex(index), interval)

    def predict_at(self, index, interval: float = 0.95) -> pd.DataFrame:
        """Forecast (with band) at arbitrary timestamps, in-sample or future (Grafana's visible range)."""
        self._check_fitted()
        interval_z(interval)
        index = clean_index(pd.DatetimeIndex(index) if not isinstance(index, pd.Index) else index)
        if not len(index):
            return forecast_frame(index, [], [], [])
        yhat = np.asarray(self._predict_mean(index), dtype=float)
        lower, upper = self._band(index, yhat, interval)
        return forecast_frame(index, yhat, lower, upper)

    def _predict_mean(self, index: pd.DatetimeIndex) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- residuals, bands and scores -----------------------------------------------------------
    def _after_fit(self, data: FitData) -> None:
        # A model fitted on averaged bins has smaller residuals than the raw data it will score and
        # draw bands around: re-learn them at the data's own step.
        if data.fit_step == data.step or data.grid is None or not hasattr(self, "resid_scale_"):
            return
        grid = data.grid
        if len(grid) > _RESIDUAL_SAMPLE:
            grid = grid.iloc[np.linspace(0, len(grid) - 1, _RESIDUAL_SAMPLE).astype(int)]
        self._learn_residuals(grid.to_numpy(dtype=float) - self._expected(grid), level=float(np.median(grid)))

    def _learn_residuals(self, residuals, level: float | None = None) -> None:
        """Record the residual distribution of the fit (call at the end of ``_fit``)."""
        r = np.asarray(residuals, dtype=float)
        r = r[np.isfinite(r)]
        self.resid_scale_ = robust_scale(r, 0.0 if level is None else level)
        self.resid_center_ = float(np.median(r)) if len(r) else 0.0
        self.resid_quantiles_ = np.quantile(r, RESIDUAL_PROBS) if len(r) else np.zeros(len(RESIDUAL_PROBS))

    def _band(self, index: pd.DatetimeIndex, yhat: np.ndarray, interval: float):
        """``(lower, upper)`` at level ``interval`` around ``yhat``; override for horizon-dependent bands."""
        z = interval_z(interval)
        lo_p, hi_p = 0.5 - interval / 2.0, 0.5 + interval / 2.0
        q_lo = float(np.interp(lo_p, RESIDUAL_PROBS, self.resid_quantiles_))
        q_hi = float(np.interp(hi_p, RESIDUAL_PROBS, self.resid_quantiles_))
        spread = z * self.resid_scale_
        return yhat + min(q_lo, self.resid_center_ - spread), yhat + max(q_hi, self.resid_center_ + spread)

    def _expected(self, x: pd.Series) -> np.ndarray:
        """The expectation of each row of ``x`` (causal); default: the point forecast at its timestamp."""
        return self._predict_mean(x.index)

    def _score(self, x: pd.Series) -> pd.Series:
        z = (x.to_numpy(dtype=float) - self._expected(x) - self.resid_center_) / self.resid_scale_
        return pd.Series(tail_score(z), index=x.index)

    def residual_z(self, series: pd.Series) -> pd.Series:
        """Standardised residuals of ``series`` against the forecast (signed; for plots and rules)."""
        self._check_fitted()
        filled, observed = prepare_score(self._check_shape(series))
        z = (filled.to_numpy(dtype=float) - self._expected(filled) - self.resid_center_) / self.resid_scale_
        return pd.Series(z, index=filled.index)[observed.reindex(filled.index).to_numpy()]


__all__ = [
    "FORECAST_COLUMNS", "FitData", "clean_index", "Forecaster", "InsufficientHistory", "ModelFitError", "PromcastModel",
    "forecast_frame", "interval_z", "read_header", "robust_scale", "tail_score", "to_timedelta",
]
