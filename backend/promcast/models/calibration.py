"""Score calibration shared by every model: empirical tail probabilities and their log scale.

A model's raw "higher is more anomalous" value (an isolation score, an absolute residual) becomes
``1 - p`` with ``p`` its tail probability among reference values seen at fit time
(:class:`EmpiricalTail`), so scores mean the same whatever the model and the shape of its residuals.
:func:`surprise` puts a score on the log scale ``-log10(p)`` where combinations add up (independent
evidence multiplies tail probabilities) and :func:`from_surprise` maps back to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: tail probability from which the heavy (Pareto) tail takes over from the empirical CDF
_TAIL_P = 0.01
#: quantiles of reference values kept for the empirical CDF
_CDF_PROBS = np.linspace(0.0, 1.0, 1001)


def pareto_survival(excess) -> np.ndarray:
    """Survival of a generalised Pareto excess with shape 1/2 and mean 1: ``(1 + x/2) ** -2``."""
    return (1.0 + 0.5 * np.asarray(excess, dtype=float)) ** -2.0


@dataclass(frozen=True)
class EmpiricalTail:
    """Turns "higher is more anomalous" values into ``1 - p``, ``p`` their empirical tail probability.

    Fitted on reference values (training rows' isolation scores, held-out absolute residuals): a new
    value scores the fraction of reference values below it, so about 1% of ordinary rows score above
    0.99 whatever the shape of the distribution (a Gaussian tail on heavy-tailed residuals would
    flag far more). Past the top ``tail_p`` of the reference a heavy (generalised Pareto, shape 1/2)
    tail matched to the mean excess takes over: values beyond every reference value still rank by
    how extreme they are, and stay distinguishable far out (an exponential tail rounds to exactly 1
    within a few dozen scales, so every large anomaly would tie).
    """

    quantiles: np.ndarray
    tail_p: float
    tail_start: float
    tail_scale: float

    @classmethod
    def fit(cls, samples, tail_p: float = _TAIL_P) -> "EmpiricalTail":
        x = np.asarray(samples, dtype=float)
        x = x[np.isfinite(x)]
        if not len(x):
            x = np.zeros(1)
        tail_p = float(min(0.5, max(tail_p, 5.0 / len(x))))  # at least ~5 reference values in the tail
        start = float(np.quantile(x, 1.0 - tail_p))
        excess = x[x > start] - start
        floor = 1e-12 + 1e-9 * float(np.max(np.abs(x)))
        scale = float(np.mean(excess)) if len(excess) else 0.0
        if not scale > floor:
            scale = max(0.1 * float(np.std(x)), floor)
        return cls(np.quantile(x, _CDF_PROBS), tail_p, start, scale)

    def __call__(self, raw) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        body = np.minimum(np.interp(raw, self.quantiles, _CDF_PROBS), 1.0 - self.tail_p)
        tail = 1.0 - self.tail_p * pareto_survival(np.maximum(raw - self.tail_start, 0.0) / self.tail_scale)
        out = np.where(raw > self.tail_start, tail, body)
        return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)



#: smallest tail probability a score can express (scores of exactly 1 map to this)
MIN_TAIL = 1e-12


def surprise(scores) -> np.ndarray:
    """``-log10(1 - score)``: 0 for a score of 0, 2 for 0.99, 12 at most (a score of 1)."""
    p = np.clip(1.0 - np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0), MIN_TAIL, 1.0)
    return -np.log10(p)


def from_surprise(bits) -> np.ndarray:
    """Inverse of :func:`surprise`: ``1 - 10 ** -bits`` in [0, 1]."""
    return np.clip(1.0 - np.power(10.0, -np.maximum(np.asarray(bits, dtype=float), 0.0)), 0.0, 1.0)


#: the sensitivity (robust standard deviations) a model's cross-validated threshold stands for
DEFAULT_SENSITIVITY = 3.0


def alert_threshold(model, z: float = DEFAULT_SENSITIVITY) -> float:
    """Score at or above which a row of ``model`` (a model or its class) alerts at sensitivity ``z``.

    A model with a cross-validated threshold ``cv_threshold`` (chosen on training folds by ``promcast
    evaluate --cv 4``; its scores are not Gaussian tail probabilities) alerts above it at the default
    sensitivity 3, and other sensitivities scale its surprise: ``-log10(1 - t) = z / 3 * -log10(1 - T)``,
    i.e. ``t = 1 - (1 - T) ** (z / 3)`` (6 -> twice as improbable in decades). Other models' scores are
    Gaussian tail scores, so ``t = 2 * Phi(z) - 1`` (3 -> 0.9973), the band's own coverage.
    """
    from scipy.stats import norm

    z = float(z)
    cv = getattr(model, "cv_threshold", None)
    if not isinstance(model, type) and hasattr(model, "cv_threshold_applies") and not model.cv_threshold_applies():
        cv = None  # e.g. an ensemble with other members: its threshold was not cross-validated
    if cv is None:
        return float(np.clip(2.0 * norm.cdf(abs(z)) - 1.0, 0.0, 1.0))
    return float(1.0 - (1.0 - float(cv)) ** (max(z, 0.0) / DEFAULT_SENSITIVITY))

