"""``promcast evaluate --backtest``: the forecast benchmark from the command line."""

import json

import numpy as np
import pandas as pd

from conftest import assert_one_line_error, run_cli


def real_corpus(tmp_path):
    """Two 8-day series in the folder the backtest reads, one with a labelled incident."""
    root = tmp_path / "nab"
    (root / "realAWSCloudwatch").mkdir(parents=True)
    index = pd.date_range("2024-01-01", periods=8 * 288, freq="5min")
    windows = {}
    for k in range(2):
        t = np.arange(len(index))
        values = 10 + 3 * np.sin(2 * np.pi * t / 288) + np.random.default_rng(k).normal(0, 0.5, len(t))
        values[6 * 288:6 * 288 + 24] += 15 * k
        name = f"realAWSCloudwatch/s{k}.csv"
        pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(root / name, index=False)
        windows[name] = [[str(index[6 * 288]), str(index[6 * 288 + 30])]] if k else []
    (root / "windows.json").write_text(json.dumps(windows))
    return root


def test_backtest_table_and_per_fold_json(tmp_path):
    root, out = real_corpus(tmp_path), tmp_path / "bt.json"
    result = run_cli("evaluate", "--nab", str(root), "--backtest", "--model", "auto", "--model", "holt_winters",
                     "--workers", "1", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split()[:4] == ["model", "folds", "MASE", "mean"]
    data = json.loads(out.read_text())
    assert set(data["summary"]) == {"auto", "holt_winters", "seasonal_naive"}  # the naive is always measured
    folds = pd.DataFrame(data["folds"])
    assert (folds.groupby(["model", "file"]).size() >= 5).all()
    for s in data["summary"].values():
        assert {"mase_mean", "mase_median", "relative_mae_geomean", "coverage", "mase_vs_naive"} <= set(s["all"])
    assert data["summary"]["seasonal_naive"]["all"]["mase_vs_naive"] == 1.0
    # on a clean daily sine with noise, auto beats repeating yesterday's noise
    assert data["summary"]["auto"]["all"]["relative_mae_geomean"] < 0.85


def test_backtest_bad_options_are_one_line_errors(tmp_path):
    root = real_corpus(tmp_path)
    assert_one_line_error(run_cli("evaluate", "--nab", str(root), "--backtest", "--origins", "3"), "--origins")
    assert_one_line_error(run_cli("evaluate", "--nab", str(root), "--backtest", "--model", "arima"), "arima")
