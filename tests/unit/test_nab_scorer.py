"""NAB scorer and corpus loader: hand-computed cases, a brute-force cross-check, and the real corpus.

Notation in the comments: S(x) = 2*sigmoid(-5x) - 1 = -tanh(2.5x); a detection at row i of a window of W
rows ending at row R is worth tp * S(-(R-i+1)/W) / S(-1); S(-1) = tanh(2.5) = 0.986614.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tools

from promcast.errors import InputError, UnknownNameError
from promcast.evaluation import nab
from promcast.evaluation.corpus import load_corpus, windows_by_path

REAL_NAB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab"
T0 = pd.Timestamp("2024-01-01", tz="UTC")


def stamps(n: int) -> pd.DatetimeIndex:
    return pd.date_range(T0, periods=n, freq="1min")


def series(n: int, hits: dict[int, float] | None = None, base: float = 0.0) -> pd.Series:
    """Scores ``base`` everywhere except at the given rows."""
    values = np.full(n, base)
    for row, value in (hits or {}).items():
        values[row] = value
    return pd.Series(values, index=stamps(n))


def win(n: int, *row_pairs: tuple[int, int]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Windows given as inclusive row ranges of an ``n``-row file."""
    idx = stamps(n)
    return [(idx[a], idx[b]) for a, b in row_pairs]


# --- building blocks ---------------------------------------------------------------------------------


def test_probation_is_15_percent_capped_at_750_rows():
    assert nab.probation_length(100) == 15
    assert nab.probation_length(4032) == 604  # floor(604.8)
    assert nab.probation_length(1243) == 186  # floor(186.45)
    assert nab.probation_length(10_000) == 750  # 0.15 * 5000
    assert nab.probation_length(6000, fraction=0.1) == 500


def test_scaled_sigmoid_values():
    assert nab.scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(math.tanh(2.5))  # 0.98661
    assert nab.scaled_sigmoid(1.0) == pytest.approx(-math.tanh(2.5))
    assert nab.scaled_sigmoid(3.0) == pytest.approx(-math.tanh(7.5))  # still the sigmoid at 3
    assert nab.scaled_sigmoid(3.01) == -1.0  # exactly -1 beyond 3


# --- hand-computed corpus scores ----------------------------------------------------------------------


def test_perfect_detector_scores_100_and_null_detector_0():
    windows = {"a.csv": win(100, (40, 49)), "b.csv": [], "c.csv": win(200, (50, 59), (120, 139))}
    perfect = {"a.csv": series(100, {40: 1.0}), "b.csv": series(100),
               "c.csv": series(200, {50: 1.0, 120: 1.0})}
    result = nab.score_corpus(perfect, windows)
    # three windows, each detected at its left edge: 3 * tp = 3; null = -3; perfect = 3
    assert result.raw == pytest.approx(3.0)
    assert (result.null, result.perfect) == (-3.0, 3.0)
    assert result.normalized == pytest.approx(100.0)
    assert result.threshold == 1.0
    assert result.total("detected") == 3

    null = {path: series(len(s)) for path, s in perfect.items()}
    result = nab.score_corpus(null, windows)
    # constant scores: alerting on every row costs far more than missing the 3 windows, so never alert
    assert result.threshold == math.inf
    assert result.raw == pytest.approx(-3.0)
    assert result.normalized == pytest.approx(0.0)


def test_late_detection_gets_the_scaled_sigmoid():
    # window rows 40..49 (W = 10); detection at row 45: x = -(49 - 45 + 1) / 10 = -0.5
    # value = S(-0.5) / S(-1) = tanh(1.25) / tanh(2.5) = 0.848284 / 0.986614 = 0.859793
    result = nab.score_corpus({"a.csv": series(100, {45: 1.0})}, {"a.csv": win(100, (40, 49))})
    expected = math.tanh(1.25) / math.tanh(2.5)
    assert result.raw == pytest.approx(expected)
    assert expected == pytest.approx(0.859793, abs=1e-6)
    # 100 * (0.859793 + 1) / (1 + 1) = 92.99
    assert result.normalized == pytest.approx(100 * (expected + 1) / 2)

    # the right edge (row 49) is x = -1/10, still positive: tanh(0.25) / tanh(2.5) = 0.248797
    late = nab.score_corpus({"a.csv": series(100, {49: 1.0})}, {"a.csv": win(100, (40, 49))})
    assert late.raw == pytest.approx(math.tanh(0.25) / math.tanh(2.5))


def test_only_the_earliest_detection_in_a_window_counts():
    # rows 42 and 47 both alert; only row 42 counts: x = -(49 - 42 + 1) / 10 = -0.8
    result = nab.score_corpus({"a.csv": series(100, {42: 1.0, 47: 1.0})}, {"a.csv": win(100, (40, 49))})
    assert result.raw == pytest.approx(math.tanh(2.0) / math.tanh(2.5))
    assert (result.files["a.csv"].tp, result.files["a.csv"].detected) == (2, 1)


def test_false_positive_right_after_a_window_costs_little():
    # left-edge hit (+1) and an alert at row 52, 3 rows after the window end 49 of W = 10:
    # x = (52 - 49) / (10 - 1) = 1/3; S(1/3) = -tanh(0.8333) = -0.682266; cost 0.11 * -0.682266 = -0.075049
    result = nab.score_corpus({"a.csv": series(100, {40: 1.0, 52: 1.0})}, {"a.csv": win(100, (40, 49))})
    fp = 0.11 * -math.tanh(2.5 / 3)
    assert fp == pytest.approx(-0.075049, abs=1e-6)
    assert result.raw == pytest.approx(1.0 + fp)
    assert result.normalized == pytest.approx(100 * (1.0 + fp + 1) / 2)  # 96.25
    counts = result.files["a.csv"]
    assert (counts.tp, counts.fp, counts.fn, counts.tn) == (1, 1, 9, 100 - 15 - 10 - 1)


def test_false_positive_without_preceding_window_or_far_after_one_costs_full_fp_weight():
    # row 20 is past probation (15 rows) and before the window: -0.11;
    # row 77 is x = (77 - 49) / 9 = 3.11 > 3 past the window: S = -1, so -0.11 too
    result = nab.score_corpus({"a.csv": series(100, {20: 1.0, 40: 1.0, 77: 1.0})},
                              {"a.csv": win(100, (40, 49))})
    assert result.raw == pytest.approx(1.0 - 0.11 - 0.11)


def test_detections_in_probation_are_ignored():
    windows = {"a.csv": win(100, (40, 49))}
    without = nab.score_corpus({"a.csv": series(100, {40: 1.0})}, windows)
    with_probation_alerts = nab.score_corpus({"a.csv": series(100, {3: 1.0, 14: 1.0, 40: 1.0})}, windows)
    assert with_probation_alerts.raw == without.raw == pytest.approx(1.0)
    assert with_probation_alerts.files["a.csv"].fp == 0


def test_window_partly_in_probation_is_scored_on_its_later_rows():
    # window rows 10..19, probation rows 0..14: the left-edge alert (row 10) is not seen, so the window is
    # missed (-1); an alert at row 15 counts with x = -(19 - 15 + 1) / 10 = -0.5 -> 0.859793
    windows = {"a.csv": win(100, (10, 19))}
    assert nab.score_corpus({"a.csv": series(100, {10: 1.0})}, windows).raw == pytest.approx(-1.0)
    assert nab.score_corpus({"a.csv": series(100, {15: 1.0})}, windows).raw == pytest.approx(
        math.tanh(1.25) / math.tanh(2.5))


def test_window_entirely_in_probation_counts_for_perfect_not_for_null():
    # NAB: null = -fn * (scored windows) = -1, perfect = tp * (all windows) = 2
    windows = {"a.csv": win(100, (2, 5), (40, 49))}
    result = nab.score_corpus({"a.csv": series(100, {2: 1.0, 40: 1.0})}, windows)
    assert (result.raw, result.null, result.perfect) == (pytest.approx(1.0), -1.0, 2.0)
    assert result.normalized == pytest.approx(100 * (1 + 1) / (2 + 1))  # 66.67


def test_threshold_is_optimised_over_the_whole_corpus():
    # a.csv: left edge of its window scores 0.9; b.csv: its left edge only 0.6 and an earlier row 0.7
    # (an FP with no preceding window). Raw score by threshold:
    #   inf: -2 (both missed); 0.9: 1 - 1 = 0; 0.7: 0 - 0.11 = -0.11; 0.6: 1 + 1 - 0.11 = 1.89;
    #   0.1 (every row): both windows hit, but ~150 FPs at up to -0.11 each, far below 1.89
    windows = {"a.csv": win(100, (40, 49)), "b.csv": win(100, (60, 69))}
    detections = {"a.csv": series(100, {40: 0.9}, base=0.1), "b.csv": series(100, {30: 0.7, 60: 0.6}, base=0.1)}
    result = nab.score_corpus(detections, windows)
    assert result.threshold == 0.6
    assert result.raw == pytest.approx(1.89)
    assert result.normalized == pytest.approx(100 * (1.89 + 2) / 4)  # 97.25
    assert nab.score_at_threshold(detections, windows, 0.9).raw == pytest.approx(0.0)
    assert nab.score_at_threshold(detections, windows, 0.7).raw == pytest.approx(-0.11)
    assert nab.score_at_threshold(detections, windows, 0.1).raw < 0


def test_ties_go_to_the_higher_threshold():
    # the 0.7 alert (row 45) sits in a window already detected at 0.8 (row 40): same raw score, keep 0.8
    result = nab.score_corpus({"a.csv": series(100, {40: 0.8, 45: 0.7})}, {"a.csv": win(100, (40, 49))})
    assert result.threshold == 0.8
    assert result.raw == pytest.approx(1.0)


def test_the_three_profiles_weigh_errors_differently():
    # one window hit at its left edge, one missed, two FPs with no preceding window (rows 32, 33; probation is 30 rows)
    windows = {"a.csv": win(200, (40, 49), (120, 129))}
    detections = {"a.csv": series(200, {32: 1.0, 33: 1.0, 40: 1.0})}
    scores = nab.score_profiles(detections, windows)
    # standard (1, 0.11, 1):  raw 1 - 1 - 2*0.11 = -0.22; null -2; perfect 2 -> 100 * 1.78 / 4 = 44.5
    assert scores["standard"].normalized == pytest.approx(44.5)
    # reward_low_FP_rate (1, 0.22, 1):  raw 1 - 1 - 2*0.22 = -0.44 -> 100 * 1.56 / 4 = 39.0
    assert scores["reward_low_FP_rate"].normalized == pytest.approx(39.0)
    # reward_low_FN_rate (1, 0.11, 2):  raw 1 - 2 - 0.22 = -1.22; null -4 -> 100 * 2.78 / 6 = 46.33
    assert scores["reward_low_FN_rate"].normalized == pytest.approx(100 * 2.78 / 6)
    assert nab.score_corpus(detections, windows, "reward_low_FP_rate").normalized == pytest.approx(39.0)


def test_nan_scores_never_detect():
    result = nab.score_corpus({"a.csv": series(100, {40: 1.0}, base=np.nan)}, {"a.csv": win(100, (40, 49))})
    assert result.raw == pytest.approx(1.0)
    assert result.files["a.csv"].fp == 0


def test_duplicated_timestamps_are_scored_by_row():
    # rows keep their positions even when timestamps repeat, as in NAB's two DST-affected AWS files
    values = list(stamps(100))
    values[31:35] = [values[30]] * 4  # row 30's timestamp five times
    idx = pd.DatetimeIndex(values)
    assert len(idx) == 100 and not idx.is_unique
    scores = pd.Series(np.where(np.arange(100) == 40, 1.0, 0.0), index=idx)
    result = nab.score_corpus({"a.csv": scores}, {"a.csv": [(idx[40], idx[49])]})
    assert result.raw == pytest.approx(1.0)


# --- cross-check: vectorised sweep against a plain per-threshold loop ----------------------------------


def _reference_raw(scores: np.ndarray, rows: list[tuple[int, int]], threshold: float, prof: nab.Profile) -> float:
    """NAB's per-file score written as a plain loop over rows, independent of the module's arrays."""
    start = nab.probation_length(len(scores))
    total, best, last = 0.0, {}, None  # best: window -> value of its best detection
    for i, score in enumerate(scores):
        inside = next((k for k, (a, b) in enumerate(rows) if a <= i <= b), None)
        if inside is None and any(b < i for _, b in rows):
            last = max(k for k, (_, b) in enumerate(rows) if b < i)
        if i < start or not score >= threshold:
            continue
        if inside is not None:
            a, b = rows[inside]
            value = prof.tp * -math.tanh(2.5 * -(b - i + 1) / (b - a + 1)) / math.tanh(2.5)
            best[inside] = max(best.get(inside, value), value)
        elif last is None:
            total -= prof.fp
        else:
            a, b = rows[last]
            x = (i - b) / (b - a)
            total += prof.fp * (-1.0 if x > 3 else -math.tanh(2.5 * x))
    for k, (_, b) in enumerate(rows):
        if b >= start:
            total += best.get(k, -prof.fn)
    return total


def test_sweep_matches_a_brute_force_search_on_random_corpora():
    rng = np.random.default_rng(7)
    for _ in range(4):
        detections, windows, rows = {}, {}, {}
        for f in range(3):
            n = int(rng.integers(60, 160))
            cuts = sorted(rng.choice(np.arange(5, n - 5), size=4, replace=False))
            pairs = [(int(cuts[0]), int(cuts[1])), (int(cuts[2]), int(cuts[3]))][: int(rng.integers(0, 3))]
            path = f"f{f}.csv"
            detections[path] = pd.Series(np.round(rng.random(n) ** 3, 2), index=stamps(n))
            windows[path], rows[path] = win(n, *pairs), pairs
        candidates = sorted({v for s in detections.values() for v in s}, reverse=True)
        if not any(rows.values()):
            continue
        for prof in nab.PROFILES.values():
            by_threshold = {t: sum(_reference_raw(detections[p].to_numpy(), rows[p], t, prof) for p in rows)
                            for t in [math.inf, *candidates]}
            result = nab.score_corpus(detections, windows, prof)
            assert result.raw == pytest.approx(max(by_threshold.values()), abs=1e-9)
            assert result.raw == pytest.approx(by_threshold[result.threshold], abs=1e-9)
            for t in candidates[::7]:
                fixed = nab.score_at_threshold(detections, windows, t, prof)
                assert fixed.raw == pytest.approx(by_threshold[t], abs=1e-9)


# --- input errors -------------------------------------------------------------------------------------


def test_mismatched_files_unknown_profile_and_bad_windows_are_clear_errors():
    windows = {"a.csv": win(100, (40, 49))}
    with pytest.raises(InputError, match="no anomaly scores for a.csv"):
        nab.score_corpus({}, windows)
    with pytest.raises(InputError, match="no label windows for b.csv"):
        nab.score_corpus({"a.csv": series(100), "b.csv": series(100)}, windows)
    with pytest.raises(UnknownNameError, match="standard"):
        nab.score_corpus({"a.csv": series(100)}, windows, "strict")
    with pytest.raises(InputError, match="overlap"):
        nab.score_corpus({"a.csv": series(100)}, {"a.csv": win(100, (40, 49), (45, 60))})
    with pytest.raises(InputError, match="no scored row"):
        nab.score_corpus({"a.csv": series(100)}, {"a.csv": [(T0 - pd.Timedelta("2h"), T0 - pd.Timedelta("1h"))]})
    with pytest.raises(InputError, match="no labelled anomaly window"):
        nab.score_corpus({"a.csv": series(100)}, {"a.csv": []})
    with pytest.raises(InputError, match="indexed by timestamps"):
        nab.score_corpus({"a.csv": pd.Series(np.zeros(100))}, windows)


# --- corpus loader ------------------------------------------------------------------------------------


def _write_corpus(root: Path, labels: object) -> None:
    (root / "sub").mkdir(parents=True)
    lines = ["timestamp,value"] + [f"{t:%Y-%m-%d %H:%M:%S},{i}" for i, t in enumerate(stamps(50))]
    (root / "sub" / "a.csv").write_text("\n".join(lines) + "\n")
    (root / "windows.json").write_text(labels if isinstance(labels, str) else json.dumps(labels))


def test_load_corpus_reads_series_and_windows(tmp_path):
    _write_corpus(tmp_path, {"sub/a.csv": [["2024-01-01 00:10:00.000000", "2024-01-01 00:19:00.000000"]]})
    [f] = load_corpus(tmp_path)
    assert f.path == "sub/a.csv"
    assert len(f.values) == 50 and f.values.iloc[3] == 3.0
    assert str(f.values.index.tz) == "UTC"
    assert f.windows == ((T0 + pd.Timedelta("10min"), T0 + pd.Timedelta("19min")),)
    assert windows_by_path([f]) == {"sub/a.csv": list(f.windows)}


@pytest.mark.parametrize("labels, message", [
    ("{not json", "invalid JSON"),
    ({"sub/a.csv": [["2024-01-01 00:10:00"]]}, "list of \\[start, end\\]"),
    ({"sub/a.csv": [], "sub/missing.csv": []}, "sub/missing.csv: file not found"),
    ({"other.csv": []}, "sub/a.csv has no entry"),
    ({"sub/a.csv": [["2024-01-01 00:20:00", "2024-01-01 00:10:00"]]}, "starts after it ends"),
    ({"sub/a.csv": [["2025-01-01 00:00:00", "2025-01-02 00:00:00"]]}, "contains no row"),
])
def test_load_corpus_rejects_bad_labels(tmp_path, labels, message):
    _write_corpus(tmp_path, labels)
    with pytest.raises(InputError, match=message):
        load_corpus(tmp_path)


def test_load_corpus_missing_folder_or_labels(tmp_path):
    with pytest.raises(InputError, match="NAB folder not found"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(InputError, match="windows.json"):
        load_corpus(tmp_path)
    (tmp_path / "windows.json").write_text(json.dumps({"a.csv": []}))
    (tmp_path / "a.csv").write_text("time,val\n2024-01-01 00:00:00,1\n")
    with pytest.raises(InputError, match="missing column"):
        load_corpus(tmp_path)


# --- the real 28-file corpus ----------------------------------------------------------------------------


@tools.unless_present(REAL_NAB.is_dir(), "shared NAB data not present")
def test_real_corpus_null_is_0_and_oracle_is_100():
    files = load_corpus(REAL_NAB)
    assert len(files) == 28 and sum(len(f.windows) for f in files) == 36
    dst = next(f for f in files if f.path.endswith("ec2_disk_write_bytes_1ef3de.csv"))
    assert len(dst.values) == 4730  # duplicated timestamps kept: NAB scores by row
    windows = windows_by_path(files)
    null = {f.path: pd.Series(0.0, index=f.values.index) for f in files}
    oracle = {}
    for f in files:
        s = pd.Series(0.0, index=f.values.index)
        for start, _ in f.windows:
            s.iloc[f.values.index.searchsorted(start)] = 1.0
        oracle[f.path] = s
    for name, result in nab.score_profiles(null, windows).items():
        assert result.normalized == pytest.approx(0.0), name
    for name, result in nab.score_profiles(oracle, windows).items():
        assert result.normalized == pytest.approx(100.0), name
        assert result.total("detected") == 36
