"""``ensemble``: combines other registered models' anomaly scores and their forecasts.

Two sets of members with weights, each renormalised over the members that could be fitted:

- ``score_weights`` (default cad_ose 1.0) make the anomaly score. Chosen under grouped 4-fold cross-validation
  over the 28 NAB files (``benchmarks/ensemble_selection.py``, a grid of 19 candidates: the previous iforest +
  knn default, artime and cad_ose alone (onset none/12h/1d) and together with max/mean/p-value combines and
  onset spans none/12h/1d, 1:2 and 2:1 mean weights, artime + cad_ose + knn max; the p-value and weighted
  candidates were added after a first look at a 12-candidate grid, the lone members' onsets after the range
  rebuild, so the nested score below is optimistic): cad_ose alone (its value range rebuilt on exceedance,
  :class:`.online.RangeRebuild`) with a 12h onset scores best on all files (standard 73.6 in-sample, 72.8 with
  the threshold chosen on training folds); adding artime, by any combine, loses 4 to 5 points of CV. Choosing
  among the candidates inside the folds (nested) scores 67.8: what the selection procedure is worth on unseen
  files. iforest + knn (``PREVIOUS_SCORE_SETTINGS``) scores 66.8 in-sample, 64.0 CV; artime + cad_ose on the
  first day's range (``PAIR_SCORE_SETTINGS``) 69.7, 67.8. Forecasters are not detection members by default:
  their one-step residuals are heavy-tailed on these metrics and add false alarms.
- ``weights`` (default prophet 0.3, lstm 0.4, iforest 0.3) make the forecast: the weighted mean of the
  forecasting members' ``yhat``, ``yhat_lower`` and ``yhat_upper`` (members that cannot forecast, like
  ``iforest``, are left out). ``fit`` fits every member used (scoring and forecasting, each once), so a
  fitted ensemble is complete: cached, counted and stored with all its members. ``weights_`` and
  ``score_weights_`` are the weights really used, renormalised over the members that could be fitted.
  ``weights={}`` is a scoring-only ensemble (no forecast member is fitted; ``predict`` says so): what
  walk-forward scoring (``detect``, NAB) uses (``score_only_params``), as scores never read a forecast.

How scores combine (``combine``), all causal because each member's score is:

- ``"pvalue"`` (default): each score ``s`` is one minus a tail probability ``p = 1 - s``; the
  ensemble's tail probability is the weighted geometric mean ``prod p_i ** w_i``, i.e. the weighted
  sum of the members' surprises ``-log10 p_i`` (:func:`.calibration.surprise`). A distance-based member
  (knn) that is far more confident than the forest gets through.
- ``"mean"``: the weighted arithmetic mean of the member scores.
- ``"max"``: the largest member score, each scaled by its weight over the largest weight.

Then ``onset`` (default ``"12h"``): :func:`.postprocess.onset_scores` keeps a row's score only where it
beats every score of the preceding ``onset`` span by ``onset_margin`` decades of tail probability (default
0), so an anomaly raises one alert at its start rather than one per row (NAB charges every extra alert; so
does an on-call rota). ``onset=None`` turns it off. ``spatial_tolerance`` (default off: the default member
already applies NAB's 5% spatial check) sets any row whose value leaves the range seen so far by that fraction
of it to 1. When every scoring member is online (:mod:`.online`), so is the ensemble: walk-forward fits it
once (its forecast members too). The default threshold (``cv_threshold``) is the median of the training
folds' thresholds, see :func:`.calibration.alert_threshold` for how ``sensitivity`` maps onto it.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, ClassVar, Mapping

import numpy as np
import pandas as pd

from ..errors import InputError, UnknownNameError
from .base import Forecaster, InsufficientHistory, PromcastModel, forecast_frame, interval_z, to_timedelta
from .online import check_tolerance, spatial_scores
from .postprocess import onset_scores
from .registry import get_model_class, model_names, register

log = logging.getLogger("promcast.models")

#: forecast weights (the design's defaults)
DEFAULT_WEIGHTS: dict[str, float] = {"prophet": 0.3, "lstm": 0.4, "iforest": 0.3}
#: anomaly-score weights (measured on NAB, see the module docstring)
DEFAULT_SCORE_WEIGHTS: dict[str, float] = {"cad_ose": 1.0}
#: default span of the onset emphasis, and how much worse (decades of tail probability) a renewed alert must be
DEFAULT_ONSET = "12h"
DEFAULT_ONSET_MARGIN = 0.0
#: the previous default, kept for reference: iforest + knn with a 1-day onset and margin 0.2
PREVIOUS_SCORE_SETTINGS = {"score_weights": {"iforest": 0.5, "knn": 0.5}, "onset": "1d", "onset_margin": 0.2}
#: the default after it, kept for reference: artime + cad_ose on the first day's range (no rebuild)
PAIR_SCORE_SETTINGS = {"score_weights": {"artime": 0.5, "cad_ose": 0.5},
                       "member_params": {"artime": {"rebuild_margin": None}, "cad_ose": {"rebuild_margin": None}}}
COMBINE_METHODS = ("mean", "pvalue", "max")
#: spatial check on the combined score (None: off)
DEFAULT_SPATIAL: float | None = None
#: a member score of exactly 1 counts as this tail probability (keeps the log finite)
_MIN_TAIL = 1e-12


def combine_scores(scores: Mapping[str, np.ndarray], weights: Mapping[str, float],
                   method: str = "mean") -> np.ndarray:
    """Combine member scores (arrays of equal length in [0, 1]) with weights summing to one."""
    if method == "mean":
        return np.clip(sum(weights[k] * np.asarray(s, dtype=float) for k, s in scores.items()), 0.0, 1.0)
    if method == "max":  # weights scale each member: a member at weight w alerts at most at w / max weight
        top = max(weights.values())
        return np.clip(np.max([weights[k] / top * np.asarray(s, dtype=float) for k, s in scores.items()], axis=0),
                       0.0, 1.0)
    log_tail = sum(
        weights[k] * np.log(np.clip(1.0 - np.asarray(s, dtype=float), _MIN_TAIL, 1.0)) for k, s in scores.items()
    )
    return np.clip(1.0 - np.exp(log_tail), 0.0, 1.0)


@register("ensemble")
class Ensemble(Forecaster):
    """Weighted ensemble of registered models (see the module docstring for how they combine)."""

    min_points: ClassVar[int] = 1
    fallback: ClassVar[str | None] = "mad"
    #: members downsample for themselves (each has its own limit)
    max_fit_points: ClassVar[int | None] = None
    fast_params: ClassVar[dict[str, Any]] = {"fast": True}
    #: median of the standard profile's four training-fold thresholds (``promcast evaluate --nab
    #: ../shared/data/nab --model ensemble --cv 4``: 0.7754, 0.7754, 0.7775, 0.7754), default settings
    cv_threshold: ClassVar[float | None] = 0.7754
    #: walk-forward scoring fits no forecast member (an LSTM fit per series for nothing)
    score_only_params: ClassVar[dict[str, Any]] = {"weights": {}}

    def __init__(self, weights: Mapping[str, float] | None = None, combine: str = "pvalue",
                 member_params: Mapping[str, Mapping[str, Any]] | None = None, fast: bool = False, seed: int = 0,
                 score_weights: Mapping[str, float] | None = None, onset: str | None = DEFAULT_ONSET,
                 onset_margin: float = DEFAULT_ONSET_MARGIN, spatial_tolerance: float | None = DEFAULT_SPATIAL):
        self.weights = weights
        self.combine = combine
        self.member_params = member_params
        self.fast = fast
        self.seed = seed
        self.score_weights = score_weights
        self.onset = onset
        self.onset_margin = onset_margin
        self.spatial_tolerance = spatial_tolerance

    # ---- configuration -------------------------------------------------------------------------
    @staticmethod
    def _check_weights(weights, what: str) -> dict[str, float]:
        """Validated weights (unknown names and bad numbers are user errors)."""
        if not isinstance(weights, Mapping) or not weights:
            raise InputError(f"bad ensemble {what} {weights!r}: expected a mapping like {DEFAULT_WEIGHTS}")
        out: dict[str, float] = {}
        for name, value in weights.items():
            if name not in model_names() or name == "ensemble":
                known = ", ".join(n for n in model_names() if n != "ensemble")
                raise UnknownNameError(f"unknown ensemble member {name!r}; known models: {known}")
            try:
                weight = float(value)
            except (TypeError, ValueError):
                weight = float("nan")
            if not np.isfinite(weight) or weight < 0:
                raise InputError(f"bad ensemble weight {value!r} for {name!r}: expected a number >= 0")
            if weight > 0:
                out[name] = weight
        if not out:
            raise InputError(f"bad ensemble {what}: at least one member needs a weight above 0")
        return out

    def _weights(self) -> dict[str, float]:
        """The forecast weights, validated; an explicit empty mapping means a scoring-only ensemble."""
        if isinstance(self.weights, Mapping) and not self.weights:
            return {}
        return self._check_weights(DEFAULT_WEIGHTS if self.weights is None else self.weights, "weights")

    def _score_weights(self) -> dict[str, float]:
        """The anomaly-score weights, validated."""
        weights = DEFAULT_SCORE_WEIGHTS if self.score_weights is None else self.score_weights
        return self._check_weights(weights, "score_weights")

    def _onset(self) -> pd.Timedelta | None:
        if self.onset is None or self.onset in ("", "0", 0, "off", "none"):
            return None
        return to_timedelta(self.onset, what="ensemble onset")

    def _member_params(self, name: str, cls: type[PromcastModel]) -> dict[str, Any]:
        params: dict[str, Any] = dict(cls.fast_params) if self.fast else {}
        params.update((self.member_params or {}).get(name, {}))
        if "seed" in inspect.signature(cls.__init__).parameters:
            params.setdefault("seed", self.seed)
        return params

    def cv_threshold_applies(self) -> bool:
        """``cv_threshold`` was measured with the default score settings only."""
        weights = self.score_weights
        # a fitted ensemble scores with its members (one stored by an earlier version may hold others)
        fitted = getattr(self, "score_weights_", None)
        return ((weights is None or dict(weights) == DEFAULT_SCORE_WEIGHTS) and self.combine == "pvalue"
                and self.onset == DEFAULT_ONSET and self.onset_margin == DEFAULT_ONSET_MARGIN
                and self.spatial_tolerance == DEFAULT_SPATIAL and not self.member_params
                and (fitted is None or set(fitted) == set(DEFAULT_SCORE_WEIGHTS))
                and all(self.members_[name].cv_threshold_applies() for name in (fitted or ())
                        if hasattr(self.members_[name], "cv_threshold_applies")))

    @property
    def online(self) -> bool:
        """Online when every scoring member is (walk-forward then fits it once, see :mod:`.online`)."""
        try:
            names = self._score_weights()
        except InputError:
            return False
        return all(get_model_class(name).online for name in names)

    # ---- fit -----------------------------------------------------------------------------------
    def _fit(self, y: pd.Series) -> None:
        weights, score_weights = self._weights(), self._score_weights()
        self.spatial_tolerance_ = check_tolerance(self.spatial_tolerance, "ensemble spatial_tolerance")
        if self.combine not in COMBINE_METHODS:
            raise InputError(f"bad ensemble combine {self.combine!r}: expected one of {', '.join(COMBINE_METHODS)}")
        onset = self._onset()
        try:
            margin = float(self.onset_margin)
        except (TypeError, ValueError):
            margin = float("nan")
        if not (np.isfinite(margin) and margin >= 0):
            raise InputError(f"bad ensemble onset_margin {self.onset_margin!r}: expected a number >= 0, e.g. 0.2")
        forecast_weights = {k: w for k, w in weights.items() if get_model_class(k).is_forecaster}
        self.members_: dict[str, PromcastModel] = {}
        self.dropped_: dict[str, str] = {}
        for name in dict.fromkeys([*score_weights, *forecast_weights]):  # every member used, each fitted once
            self._fit_member(name, y)
        self.score_weights_ = self._renormalise(score_weights)
        if not self.score_weights_:
            reasons = "; ".join(f"{k}: {v}" for k, v in self.dropped_.items())
            raise InsufficientHistory(f"no ensemble scoring member could be fitted ({reasons})")
        self.configured_weights_ = weights
        #: forecast weights really used: renormalised over the forecasting members that were fitted
        #: (a member that cannot forecast, such as iforest, gets none; empty: this ensemble cannot forecast)
        self.weights_ = self._renormalise(forecast_weights)
        self.history_ = y
        self.onset_rows_ = 0 if onset is None else max(1, int(np.ceil(onset / self.step_ - 1e-9)))
        self.onset_margin_ = margin

    def _fit_member(self, name: str, y: pd.Series) -> None:
        """Fit one member on the ensemble's history; a failure drops it with a warning."""
        try:
            cls = get_model_class(name)
            model = cls(**self._member_params(name, cls))
            model.fit(y)
        except Exception as exc:  # noqa: BLE001 - any member failure drops that member only
            self.dropped_[name] = f"{type(exc).__name__}: {exc}"
            log.warning("ensemble: dropping member %s (%s)", name, self.dropped_[name])
            self.notes_ = list(getattr(self, "notes_", [])) + [f"dropped member {name}: {self.dropped_[name]}"]
            return
        self.members_[name] = model

    def _renormalise(self, weights: Mapping[str, float]) -> dict[str, float]:
        fitted = {k: w for k, w in weights.items() if k in self.members_}
        total = sum(fitted.values())
        return {k: w / total for k, w in fitted.items()} if total > 0 else {}

    # ---- scores --------------------------------------------------------------------------------
    def _score(self, x: pd.Series) -> pd.Series:
        scores = {name: self.members_[name].score(x).to_numpy(dtype=float) for name in self.score_weights_}
        combined = combine_scores(scores, self.score_weights_, self.combine)
        if self.onset_rows_:
            combined = onset_scores(combined, self.onset_rows_, getattr(self, "onset_margin_", 0.0))
        tolerance = getattr(self, "spatial_tolerance_", None)
        if tolerance is not None:
            before = self.history_[self.history_.index < x.index[0]].to_numpy(dtype=float)
            spatial = spatial_scores(x.to_numpy(dtype=float), tolerance, history=before)
            combined = np.where(spatial > 0, 1.0, combined)
        return pd.Series(combined, index=x.index)

    def member_scores(self, series: pd.Series) -> pd.DataFrame:
        """Each scoring member's causal score (one column per member): for inspection and weight learning."""
        self._check_fitted()
        return pd.DataFrame({name: self.members_[name].score(series) for name in self.score_weights_})

    def score_context(self) -> int:
        """The members' own context plus the onset span (the onset rule compares with earlier rows)."""
        members = max((self.members_[k].score_context() for k in self.score_weights_), default=0)
        return members + int(getattr(self, "onset_rows_", 0))

    # ---- forecasts -----------------------------------------------------------------------------
    def predict_at(self, index, interval: float = 0.95) -> pd.DataFrame:
        """Weighted mean of the forecasting members' forecasts and bands at ``index``."""
        self._check_fitted()
        interval_z(interval)
        weights = self.weights_
        if not weights:
            names = ", ".join(self.configured_weights_) or "none: a scoring-only ensemble, weights {}"
            raise InputError(
                f"this ensemble cannot forecast: none of its forecast members ({names}) is a forecaster that "
                "could be fitted; give a forecaster such as prophet or lstm a weight"
            )
        combined = None
        for name, weight in weights.items():
            frame = self.members_[name].predict_at(index, interval)
            part = frame[["yhat", "yhat_lower", "yhat_upper"]].to_numpy(dtype=float) * weight
            combined = part if combined is None else combined + part
        return forecast_frame(frame.index, combined[:, 0], combined[:, 1], combined[:, 2])

    def residual_z(self, series: pd.Series) -> pd.Series:
        raise InputError("the ensemble has no single residual scale; use its member_scores or score")

    # ---- serialisation -------------------------------------------------------------------------
    def _dump_state(self) -> dict[str, Any]:
        """Members in their own native formats (``to_bytes``), the rest as plain values."""
        state = super()._dump_state()
        state["members_"] = {name: member.to_bytes() for name, member in state["members_"].items()}
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["members_"] = {name: PromcastModel.from_bytes(data) for name, data in state["members_"].items()}
        super()._load_state(state)
        if "weights_" not in state:  # stored before fit fitted every member: forecast with the members it holds
            self.weights_ = self._renormalise(
                {k: w for k, w in self.configured_weights_.items() if get_model_class(k).is_forecaster})
