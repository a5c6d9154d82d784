"""alert_threshold: Gaussian for residual models, the cross-validated threshold for the others."""

from __future__ import annotations

import pytest

from promcast.models.calibration import alert_threshold
from promcast.models.registry import get_model_class


def test_residual_models_keep_the_gaussian_threshold():
    mad = get_model_class("mad")
    assert mad.cv_threshold is None
    assert alert_threshold(mad, 3) == pytest.approx(0.9973, abs=1e-4)


def test_default_detector_alerts_at_its_cv_threshold_and_sensitivity_scales_it():
    ensemble = get_model_class("ensemble")
    assert alert_threshold(ensemble) == pytest.approx(ensemble.cv_threshold)
    values = [alert_threshold(ensemble, z) for z in (1, 2, 3, 4, 6, 8)]
    assert values == sorted(values) and len(set(values)) == len(values), "higher sensitivity, fewer alerts"
    assert alert_threshold(ensemble, 6) == pytest.approx(1 - (1 - ensemble.cv_threshold) ** 2)
    assert 0.0 < values[0] and values[-1] < 1.0


def test_cv_threshold_only_for_the_settings_it_was_measured_with():
    from promcast.models import get_model

    assert alert_threshold(get_model("ensemble")) == pytest.approx(0.7754)
    other = get_model("ensemble", score_weights={"iforest": 0.5, "knn": 0.5})
    assert alert_threshold(other, 3) == pytest.approx(0.9973, abs=1e-4)
    assert alert_threshold(get_model("cad_ose")) == pytest.approx(get_model_class("cad_ose").cv_threshold)


def test_cv_threshold_only_with_the_members_and_range_handling_it_was_measured_with():
    """A member with its range kept (``rebuild_margin=None``) was not cross-validated at ``cv_threshold``,
    and neither was an ensemble fitted with other members (e.g. stored by an earlier version whose default
    members were artime and cad_ose): both fall back to the Gaussian threshold."""
    import numpy as np
    import pandas as pd

    from promcast.models import get_model

    assert alert_threshold(get_model("cad_ose", rebuild_margin=None), 3) == pytest.approx(0.9973, abs=1e-4)
    assert alert_threshold(get_model("artime", rebuild_margin=0)) == pytest.approx(get_model_class("artime").cv_threshold)
    index = pd.date_range("2024-01-01", periods=600, freq="5min", tz="UTC")
    y = pd.Series(10 + np.sin(np.arange(600) / 20) + np.random.default_rng(0).normal(0, 0.1, 600), index=index)
    fitted = get_model("ensemble", weights={}).fit(y)
    assert alert_threshold(fitted) == pytest.approx(0.7754)
    old = get_model("ensemble", weights={}).fit(y)
    old.members_["artime"] = get_model("artime").fit(y)
    old.score_weights_ = {"artime": 0.5, "cad_ose": 0.5}  # what an earlier version's default stored
    assert alert_threshold(old, 3) == pytest.approx(0.9973, abs=1e-4)
    kept = get_model("ensemble", weights={}).fit(y)
    kept.members_["cad_ose"] = get_model("cad_ose", rebuild_margin=None).fit(y)
    assert alert_threshold(kept, 3) == pytest.approx(0.9973, abs=1e-4)
