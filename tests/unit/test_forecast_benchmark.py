"""``evaluate --backtest``: second-half origins, per-fold metrics, grouped CV that never scores its own pick."""

import json

import numpy as np
import pandas as pd
import pytest

from promcast.evaluation.forecasts import (BAND_SCALES, Fold, backtest_file, band_cv, format_table, grouped_cv,
                                          report, second_half_origins, summarise)


def daily_series(days=8, incident_at=None):
    index = pd.date_range("2024-01-01", periods=days * 288, freq="5min", tz="UTC")
    t = np.arange(len(index))
    values = 10 + 3 * np.sin(2 * np.pi * t / 288) + np.random.default_rng(3).normal(0, 0.3, len(t))
    if incident_at is not None:
        values[incident_at:incident_at + 36] += 20  # a 3-hour incident
    return pd.Series(values, index=index)


def test_origins_spread_over_the_second_half_and_leave_a_full_horizon():
    index = daily_series(days=14).index
    origins = second_half_origins(index, pd.Timedelta(days=1), 6)
    assert len(origins) == 6
    assert origins[0] >= index[0] + (index[-1] - index[0]) / 2 - pd.Timedelta(minutes=5)
    assert origins[-1] + pd.Timedelta(days=1) <= index[-1]
    assert len(set(np.diff([o.value for o in origins]))) <= 2  # evenly spaced (to the row)
    assert second_half_origins(index[:300], pd.Timedelta(days=1), 6) == []


def test_fold_metrics_and_windows():
    series = daily_series(days=6, incident_at=5 * 288 + 10)
    window = (series.index[5 * 288 + 10], series.index[5 * 288 + 45])
    folds = backtest_file(("seasonal_naive", "f.csv", series, (window,), "1d", 5, 0.95))
    assert len(folds) == 5 and all(f.points > 0 for f in folds)
    hit = [f for f in folds if f.points_normal < f.points]
    assert hit and all(f.points - f.points_normal <= 36 for f in hit)
    # the model is the naive itself: relative MAE 1 and MASE about 1 on stationary data
    s = summarise(folds, folds)
    assert s["relative_mae_geomean"] == pytest.approx(1.0, abs=0.02)
    assert s["mase_vs_naive"] == pytest.approx(1.0)
    assert len(folds[0].covered_scaled) == len(BAND_SCALES)


def _fold(file, origin, mae, naive=1.0, scale=1.0, covered=95, points=100, scaled=None):
    return Fold(file=file, origin=origin, model="m", fitted="m", mae=mae, naive_mae=naive, scale=scale,
                covered=covered, points=points, mae_normal=mae, naive_mae_normal=naive, scale_normal=scale,
                covered_normal=covered, points_normal=points, seconds=0.0,
                covered_scaled=scaled or tuple([covered] * len(BAND_SCALES)))


def test_geometric_mean_resists_one_exploding_fold_and_floors_zero_errors():
    folds = [_fold("a", "1", 0.5), _fold("a", "2", 0.5), _fold("a", "3", 50.0), _fold("a", "4", 0.0)]
    s = summarise(folds)
    assert s["mase_mean"] == pytest.approx(12.75)
    assert s["mase_median"] == pytest.approx(0.5)
    assert s["relative_mae_geomean"] == pytest.approx((0.5 * 0.5 * 50.0 * 0.01) ** 0.25)


def test_grouped_cv_scores_each_file_with_the_choice_of_the_other_files():
    naive = [_fold(f, "1", 1.0) for f in "abc"]
    # "good" wins on a and b but is terrible on c; "steady" is fine everywhere
    variants = {"good": [_fold("a", "1", 0.2), _fold("b", "1", 0.2), _fold("c", "1", 5.0)],
                "steady": [_fold(f, "1", 0.6) for f in "abc"]}
    held_out, chosen = grouped_cv(variants, naive)
    assert chosen == {"a": "steady", "b": "steady", "c": "good"}  # c's own score does not pick for c
    assert [f.mae for f in sorted(held_out, key=lambda f: f.file)] == [0.6, 0.6, 5.0]


def test_band_cv_picks_the_width_closest_to_95_percent_on_other_files():
    i = BAND_SCALES.index(1.2)
    scaled = tuple(100 if k >= i else 90 for k in range(len(BAND_SCALES)))
    folds = [_fold(f, "1", 1.0, covered=90, scaled=tuple(s - 5 for s in scaled)) for f in "abc"]
    coverage, chosen = band_cv(folds)
    assert set(chosen.values()) == {1.2}
    assert coverage == pytest.approx(0.95)


def test_report_is_json_with_a_table_row_per_model_and_every_fold():
    folds = {"seasonal_naive": [_fold("a", "1", 1.0)], "auto": [_fold("a", "1", 0.7)],
             "auto[top_k=3]": [_fold("a", "1", 0.8)]}
    result = report(folds)
    json.dumps(result)
    assert len(result["folds"]) == 3
    assert result["summary"]["auto"]["all"]["mase_vs_naive"] == pytest.approx(0.7)
    table = format_table(result)
    assert "auto (grouped CV)" in table and "seasonal_naive" in table
