"""``lstm``: a small Keras LSTM forecasting the next step from a window of recent values.

Why it is built this way:

- **Fast to train on 2 cores.** Values are standardised, windows are short (``window`` steps), the
  network is one small LSTM layer and a linear output, training uses large batches on at most
  ``max_windows`` windows (evenly spaced over the history, so every hour of every day is still seen)
  and stops early on a chronological validation split. Tracing TensorFlow's training step costs
  more than training itself, so one compiled step per network shape is kept for the process and
  reused by every fit (walk-forward detection refits often). A 10,000-point series trains in seconds.
- **Deterministic.** Initial weights (Keras' default schemes) and the batch order are drawn from a
  NumPy generator seeded with ``seed`` (global random state is never touched), the optimiser state
  is reset before each fit and TensorFlow runs with deterministic ops: the same input gives the same
  weights, whatever was fitted before. Inference runs in NumPy from the trained weights (a Keras
  call per step would make a one-day recursive forecast take minutes).
- **Honest band and score.** Residuals come from the validation windows (out of sample), so the
  band and the score are not flattered by overfitting. The score of a row is one minus the empirical
  tail probability of its absolute one-step error among those residuals (a Pareto tail beyond the
  top 1%; :class:`.calibration.EmpiricalTail`). One-step errors are heavy-tailed (spiky metrics, a
  near-perfect fit on a clean cycle), and the Gaussian ``tail_score`` of a MAD-standardised error
  put 5-35% of ordinary NAB rows above 0.99, which no threshold can separate (NAB score 0). Future bands widen with the horizon as measured: at fit time a few recursive
  forecasts are run from origins inside the validation part and their error growth (relative to the
  one-step error) is stored; past the measured horizon the band grows like ``sqrt(h)``, and never
  beyond the series' own spread (a forecast far ahead is no worse than the series' level).
- **Causal scores.** The expectation of row ``t`` is the one-step forecast from the values at
  ``t - k * step`` (``k = 1..window``) as of that time: the scored rows themselves, preceded by the
  fitted history. A row never sees a later row.

TensorFlow and Keras are imported only inside this module, on first fit or load. Fitted models
serialise natively: the network as a ``.keras`` file, the scaler and window settings as JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .base import Forecaster, InsufficientHistory, ModelFitError
from .calibration import EmpiricalTail
from .iforest import cyclic_time
from .prepare import epoch_seconds
from .registry import register

#: TensorFlow threads: two intra-op threads (the target machine has 2 cores), one inter-op thread
_INTRA_THREADS = 2
#: one-step forecasts are computed in chunks of this many windows (bounds memory on long series)
_CHUNK = 8192
#: the recursive forecast runs at most this many steps (~0.5-1 ms each); further timestamps repeat its
#: last value (longer horizons belong to prophet or holt_winters)
MAX_RECURSION = 4096
#: horizon (steps) over which the band's widening is measured on the validation part at fit time
_WIDEN_STEPS = 512
#: recursive validation forecasts (origins) used to measure the widening
_WIDEN_ORIGINS = 8

#: short histories get smaller batches: at least this many optimiser steps per epoch ...
_MIN_STEPS_PER_EPOCH = 8
#: ... but batches of at least this many windows
_MIN_BATCH = 32
#: windows per NumPy forward chunk (keeps the gate arrays in cache)
_FORWARD_CHUNK = 512

_TF_CONFIGURED = False


def _keras():
    """Import Keras on TensorFlow lazily, configured once for determinism and a small CPU."""
    global _TF_CONFIGURED
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    if not _TF_CONFIGURED:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(_INTRA_THREADS)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow already initialised elsewhere: keep its thread settings
            pass
        tf.config.experimental.enable_op_determinism()
        _TF_CONFIGURED = True
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ModelFitError(
            f"the lstm model needs Keras on TensorFlow, but KERAS_BACKEND is {keras.backend.backend()!r}; "
            "unset it or set KERAS_BACKEND=tensorflow"
        )
    return keras


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def lstm_forward(weights: list[np.ndarray], windows: np.ndarray) -> np.ndarray:
    """The trained network's output for ``windows`` ``(batch, steps, features)``, computed in NumPy.

    Mirrors Keras' ``LSTM`` (gates i, f, c, o; tanh and sigmoid) followed by ``Dense(1)``. Works
    through the batch in cache-sized chunks, one time step at a time.
    """
    kernel, recurrent, bias, dense_w, dense_b = weights
    units = recurrent.shape[0]
    out = np.empty(windows.shape[0])
    for start in range(0, windows.shape[0], _FORWARD_CHUNK):
        chunk = windows[start:start + _FORWARD_CHUNK]
        h = np.zeros((chunk.shape[0], units))
        c = np.zeros_like(h)
        for t in range(chunk.shape[1]):
            z = chunk[:, t] @ kernel + h @ recurrent + bias
            i = _sigmoid(z[:, :units])
            f = _sigmoid(z[:, units:2 * units])
            g = np.tanh(z[:, 2 * units:3 * units])
            o = _sigmoid(z[:, 3 * units:])
            c = f * c + i * g
            h = o * np.tanh(c)
        out[start:start + _FORWARD_CHUNK] = (h @ dense_w + dense_b)[:, 0]
    return out


def initial_weights(rng: np.random.Generator, features: int, units: int) -> list[np.ndarray]:
    """Keras' default initialisation (Glorot-uniform kernels, orthogonal recurrent kernel, forget-gate
    bias 1), drawn from ``rng`` so a fit never depends on TensorFlow's global random state."""

    def glorot(fan_in, fan_out):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_in, fan_out))

    q, r = np.linalg.qr(rng.standard_normal((4 * units, units)))
    recurrent = (q * np.sign(np.diag(r))).T
    bias = np.zeros(4 * units)
    bias[units:2 * units] = 1.0
    return [glorot(features, 4 * units), recurrent, bias, glorot(units, 1), np.zeros(1)]


def _huber(residuals: np.ndarray) -> float:
    a = np.abs(residuals)
    return float(np.mean(np.where(a <= 1.0, 0.5 * a * a, a - 0.5)))


class _Trainer:
    """A Keras network, its Adam optimiser and a compiled training step for one input shape.

    Tracing the step costs seconds, far more than training on a few thousand windows, so a trainer
    is built once per process and shape and reused: each fit resets the weights (from the fit's own
    seed) and the optimiser state, so a fit's result does not depend on earlier fits.
    """

    def __init__(self, window: int, features: int, units: int):
        keras = _keras()
        import tensorflow as tf

        self.network = build_network(keras, window, features, units)
        self.optimizer = keras.optimizers.Adam(0.005)
        self.optimizer.build(self.network.trainable_variables)
        self.fresh_state = [np.array(v.value.numpy()) for v in self.optimizer.variables]
        loss_fn = keras.losses.Huber()
        network, optimizer = self.network, self.optimizer

        @tf.function(input_signature=[tf.TensorSpec((None, window, features), tf.float32),
                                      tf.TensorSpec((None,), tf.float32)])
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, network(x, training=True)[:, 0])
            grads = tape.gradient(loss, network.trainable_variables)
            optimizer.apply_gradients(zip(grads, network.trainable_variables))
            return loss

        self.step = step

    def train(self, initial, learning_rate, x_train, y_train, x_val, y_val, *, epochs, batch_size, patience, rng):
        """Mini-batch Adam with early stopping on the validation Huber loss; returns (best weights, epochs)."""
        import tensorflow as tf

        self.network.set_weights([np.asarray(a, dtype="float32") for a in initial])
        for variable, value in zip(self.optimizer.variables, self.fresh_state):
            variable.assign(value)
        self.optimizer.learning_rate = learning_rate
        x_train, y_train = np.asarray(x_train, dtype="float32"), np.asarray(y_train, dtype="float32")
        x_val = np.asarray(x_val, dtype=float)
        best_loss, best, waited, epoch = np.inf, [np.asarray(a, dtype=float) for a in initial], 0, 0
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(x_train))
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                self.step(tf.constant(x_train[batch]), tf.constant(y_train[batch]))
            weights = _numpy_weights(self.network)
            loss = _huber(y_val - lstm_forward(weights, x_val))
            if not np.isfinite(loss):
                raise ValueError("the training loss diverged (non-finite)")
            if loss < best_loss:
                best_loss, best, waited = loss, weights, 0
            else:
                waited += 1
                if waited > patience:
                    break
        return best, epoch


def _numpy_weights(network) -> list[np.ndarray]:
    """The network's weights as float64 arrays (read from the TensorFlow variables directly)."""
    return [np.asarray(v.value.numpy(), dtype=float) for v in network.weights]


def build_network(keras, window: int, features: int, units: int):
    """The architecture: one LSTM layer (unrolled: windows are short) and a linear output."""
    return keras.Sequential([
        keras.Input(shape=(window, features)),
        keras.layers.LSTM(units, unroll=True),
        keras.layers.Dense(1),
    ])


_TRAINERS: dict[tuple[int, int, int], _Trainer] = {}
_TRAIN_LOCK = threading.Lock()


def _trainer(window: int, features: int, units: int) -> _Trainer:
    key = (int(window), int(features), int(units))
    if key not in _TRAINERS:
        _TRAINERS[key] = _Trainer(*key)
    return _TRAINERS[key]


@register("lstm")
class LstmModel(Forecaster):
    """One-step LSTM forecaster over ``window`` standardised values (plus time of day/week)."""

    min_points: ClassVar[int] = 32
    fallback: ClassVar[str | None] = "holt_winters"
    #: same network shape as the defaults (its compiled training step is shared), fewer windows
    fast_params: ClassVar[dict[str, Any]] = {"max_windows": 1024}

    def __init__(self, window: int = 24, units: int = 16, epochs: int = 10, patience: int = 2,
                 batch_size: int = 256, learning_rate: float = 0.005, max_windows: int = 4096,
                 validation_fraction: float = 0.2, time_features: bool = True, seed: int = 0):
        self.window = window
        self.units = units
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_windows = max_windows
        self.validation_fraction = validation_fraction
        self.time_features = time_features
        self.seed = seed

    # ---- inputs --------------------------------------------------------------------------------
    def _inputs(self, values: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Per-timestep network inputs: the standardised value, then the cyclic time features.

        With ``time_features`` the input always has 5 columns (value, hour, weekday); a feature the
        history is too short to teach is zero, so the network shape (and its compiled training step)
        stays the same as the history grows.
        """
        scaled = ((np.asarray(values, dtype=float) - self.center_) / self.scale_)[..., None]
        if not self.time_features:
            return scaled
        times = cyclic_time(seconds, True, True)
        times[..., :2] *= float(self.hour_feature_)
        times[..., 2:] *= float(self.weekday_feature_)
        return np.concatenate([scaled, times], axis=-1)

    def _one_step(self, targets: np.ndarray, known_t: np.ndarray, known_v: np.ndarray) -> np.ndarray:
        """One-step forecasts at ``targets`` (epoch seconds) from the values known strictly before each.

        Window value ``k`` of a target ``t`` is the last known value at or before ``t - k * step``.
        """
        lags = self.fit_step_.total_seconds() * np.arange(self.window_, 0, -1)
        out = np.empty(len(targets))
        for start in range(0, len(targets), _CHUNK):
            t = targets[start:start + _CHUNK]
            times = t[:, None] - lags[None, :]
            pos = np.searchsorted(known_t, times + 1e-6, side="right") - 1
            values = known_v[np.clip(pos, 0, None)]
            out[start:start + _CHUNK] = lstm_forward(self.weights_, self._inputs(values, times))
        return out * self.scale_ + self.center_

    # ---- fit -----------------------------------------------------------------------------------
    def _fit(self, y: pd.Series) -> None:
        values = y.to_numpy(dtype=float)
        n = len(values)
        self.center_ = float(np.mean(values))
        spread = float(np.std(values))
        if not spread > 1e-9 * max(1.0, abs(self.center_)):
            raise InsufficientHistory("the series is flat: there is nothing for lstm to learn")
        self.scale_ = spread
        self.window_ = int(min(int(self.window), max(4, n // 4)))
        span = self.last_timestamp_ - self.first_timestamp_
        self.hour_feature_ = bool(self.time_features and span >= pd.Timedelta(days=2))
        self.weekday_feature_ = bool(self.time_features and span >= pd.Timedelta(days=14))

        seconds = epoch_seconds(y.index)
        inputs = self._inputs(values, seconds)
        w = self.window_
        targets = (values[w:] - self.center_) / self.scale_
        starts = np.arange(n - w)
        n_val = max(1, int(round(len(starts) * float(self.validation_fraction))))
        if len(starts) - n_val < 8:
            raise InsufficientHistory(f"lstm needs at least {w + n_val + 8} points for window {w}, got {n}")
        train, val = starts[:-n_val], starts[-n_val:]
        cap = max(16, int(self.max_windows))
        if len(train) > cap:
            train = train[np.linspace(0, len(train) - 1, cap).astype(int)]
        val_fit = val if len(val) <= cap // 4 else val[np.linspace(0, len(val) - 1, cap // 4).astype(int)]

        all_windows = np.lib.stride_tricks.sliding_window_view(inputs, w, axis=0).transpose(0, 2, 1)

        # window i holds rows i .. i+w-1 and predicts row i+w
        self.weights_, self.epochs_trained_ = self._train(
            all_windows[train], targets[train], all_windows[val_fit], targets[val_fit]
        )
        self.history_ = y.astype(float)
        self.level_scale_ = spread

        # residuals of the held-out (validation) windows: an honest one-step error distribution
        val_pred = lstm_forward(self.weights_, all_windows[val]) * self.scale_ + self.center_
        self._learn_residuals(values[val + w] - val_pred, level=float(np.median(values)))
        self.widen_ = self._measure_widening(values, seconds, first=int(val[0]) + w)

    def _measure_widening(self, values: np.ndarray, seconds: np.ndarray, first: int) -> np.ndarray:
        """Error growth of recursive forecasts over the validation part: ``widen_[h-1] >= 1``."""
        n, w = len(values), self.window_
        horizon = min(_WIDEN_STEPS, (n - first) // 2)
        if horizon < 2:
            return np.ones(1)
        origins = np.unique(np.linspace(first, n - horizon, _WIDEN_ORIGINS).astype(int))
        rows = origins[:, None] + np.arange(-w, 0)[None, :]
        paths = self._roll(values[rows], seconds[rows], horizon)
        errors = values[origins[:, None] + np.arange(horizon)[None, :]] - paths
        rmse = np.sqrt(np.mean(errors ** 2, axis=0))
        return np.maximum.accumulate(np.maximum(rmse / max(rmse[0], 1e-12), 1.0))

    def _batch_size(self, n_windows: int) -> int:
        """``batch_size``, made smaller on short histories so every epoch still takes several steps."""
        return int(max(1, min(int(self.batch_size), max(_MIN_BATCH, -(-n_windows // _MIN_STEPS_PER_EPOCH)))))

    def _train(self, x_train, y_train, x_val, y_val):
        rng = np.random.default_rng(int(self.seed))
        initial = initial_weights(rng, x_train.shape[2], int(self.units))
        try:
            with _TRAIN_LOCK:  # one shared network per shape: fits take turns
                return _trainer(self.window_, x_train.shape[2], int(self.units)).train(
                initial, float(self.learning_rate), x_train, y_train, x_val, y_val,
                    epochs=max(1, int(self.epochs)), batch_size=self._batch_size(len(x_train)),
                    patience=max(0, int(self.patience)), rng=rng,
                )
        except (ValueError, RuntimeError) as exc:
            raise ModelFitError(f"lstm training failed: {exc}") from exc

    # ---- scores --------------------------------------------------------------------------------
    def _learn_residuals(self, residuals, level: float | None = None) -> None:
        """The base's residual summary, plus the empirical distribution of absolute residuals."""
        super()._learn_residuals(residuals, level)
        r = np.asarray(residuals, dtype=float)
        self.resid_tail_ = EmpiricalTail.fit(np.abs(r[np.isfinite(r)] - self.resid_center_))

    def _score(self, x: pd.Series) -> pd.Series:
        """``1 -`` the empirical tail probability of the absolute one-step error (see module docs)."""
        error = np.abs(x.to_numpy(dtype=float) - self._expected(x) - self.resid_center_)
        return pd.Series(self.resid_tail_(error), index=x.index)

    # ---- forecasts -----------------------------------------------------------------------------
    def _expected(self, x: pd.Series) -> np.ndarray:
        older = self.history_[self.history_.index < x.index[0]]
        known = pd.concat([older, x.astype(float)]) if len(older) else x.astype(float)
        return self._one_step(epoch_seconds(x.index), epoch_seconds(known.index), known.to_numpy(dtype=float))

    def _roll(self, values: np.ndarray, seconds: np.ndarray, steps: int) -> np.ndarray:
        """Recursive forecasts ``(batch, steps)`` continuing windows ``values``/``seconds`` ``(batch, window)``.

        Each forecast is fed back as the newest value of the next window.
        """
        step = self.fit_step_.total_seconds()
        w = self.window_
        times = np.concatenate([seconds, seconds[:, -1:] + step * np.arange(1, steps + 1)[None, :]], axis=1)
        inputs = self._inputs(np.concatenate([values, np.zeros((len(values), steps))], axis=1), times)
        out = np.empty((len(values), steps))
        for k in range(steps):
            out[:, k] = lstm_forward(self.weights_, inputs[:, k:k + w]) * self.scale_ + self.center_
            inputs[:, k + w, 0] = (out[:, k] - self.center_) / self.scale_
        return out

    def _recursive(self, steps: int) -> np.ndarray:
        """The recursive forecast for the next ``steps`` grid points after the fitted history."""
        cache = getattr(self, "_path_cache", None)
        if cache is not None and len(cache) >= steps:
            return cache[:steps]
        w = self.window_
        tail = self.history_.iloc[-w:]
        path = self._roll(tail.to_numpy(dtype=float)[None, :], epoch_seconds(tail.index)[None, :], steps)[0]
        self._path_cache = path
        return path

    def _predict_mean(self, index: pd.DatetimeIndex) -> np.ndarray:
        t = epoch_seconds(index)
        hist_t = epoch_seconds(self.history_.index)
        hist_v = self.history_.to_numpy(dtype=float)
        out = np.empty(len(t))
        past = t <= hist_t[-1]
        if past.any():
            out[past] = self._one_step(t[past], hist_t, hist_v)
        if (~past).any():
            step = self.fit_step_.total_seconds()
            steps = int(min(MAX_RECURSION, np.ceil((t[~past].max() - hist_t[-1]) / step - 1e-9)))
            path = self._recursive(max(1, steps))
            grid = hist_t[-1] + step * np.arange(0, len(path) + 1)
            out[~past] = np.interp(t[~past], grid, np.concatenate([[hist_v[-1]], path]))
        return out

    def _band(self, index: pd.DatetimeIndex, yhat: np.ndarray, interval: float):
        lower, upper = super()._band(index, yhat, interval)
        ahead = (epoch_seconds(index) - epoch_seconds(self.history_.index[-1:])[0]) / self.fit_step_.total_seconds()
        measured = len(self.widen_)
        h = np.clip(np.ceil(ahead - 1e-9), 1, None)
        widen = self.widen_[np.minimum(h, measured).astype(int) - 1] * np.sqrt(np.maximum(h / measured, 1.0))
        widen = np.where(ahead > 0, np.minimum(widen, max(1.0, self.level_scale_ / self.resid_scale_)), 1.0)
        return yhat + (lower - yhat) * widen, yhat + (upper - yhat) * widen

    def score_context(self) -> int:
        """Rows before a row that its expectation reads: one window, at the data's own step."""
        return int(np.ceil(self.window_ * self.fit_step_ / self.step_))

    # ---- serialisation -------------------------------------------------------------------------
    _JSON_KEYS = ("center_", "scale_", "window_", "hour_feature_", "weekday_feature_", "level_scale_",
                  "epochs_trained_")

    def network(self):
        """The trained network as a Keras model (imports TensorFlow)."""
        self._check_fitted()
        keras = _keras()
        kernel = self.weights_[0]
        model = build_network(keras, self.window_, kernel.shape[0], self.weights_[1].shape[0])
        model.set_weights([np.asarray(a, dtype="float32") for a in self.weights_])
        return model

    def _dump_state(self) -> dict[str, Any]:
        """The network as ``.keras`` bytes, the scaler and window as JSON, the rest as plain values."""
        state = super()._dump_state()
        state.pop("weights_")
        config = {key: state.pop(key) for key in self._JSON_KEYS}
        with tempfile.TemporaryDirectory(prefix="promcast-lstm-") as tmp:
            path = os.path.join(tmp, "model.keras")
            with warnings.catch_warnings():  # Keras' saver trips NumPy 2's __array__ copy deprecation
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"keras\.")
                self.network().save(path)
            with open(path, "rb") as fh:
                keras_bytes = fh.read()
        return {"keras": keras_bytes, "config_json": json.dumps(config, sort_keys=True), "state": state}

    def _load_state(self, state: dict[str, Any]) -> None:
        keras = _keras()
        super()._load_state(state["state"])
        super()._load_state(json.loads(state["config_json"]))
        with tempfile.TemporaryDirectory(prefix="promcast-lstm-") as tmp:
            path = os.path.join(tmp, "model.keras")
            with open(path, "wb") as fh:
                fh.write(state["keras"])
            network = keras.models.load_model(path, compile=False)
        self.weights_ = _numpy_weights(network)
