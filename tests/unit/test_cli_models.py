"""forecast / detect / evaluate from the command line, on files a user would have."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import assert_one_line_error, run_cli


@pytest.fixture
def daily_csv(tmp_path):
    index = pd.date_range("2024-01-01", periods=4 * 288, freq="5min")
    t = np.arange(len(index))
    values = 10 + 3 * np.sin(2 * np.pi * t / 288) + np.random.default_rng(1).normal(0, 0.2, len(t))
    values[900] += 8
    path = tmp_path / "load.csv"
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(path, index=False)
    return path


def test_forecast_csv_and_plot(daily_csv, tmp_path):
    out, png = tmp_path / "f.csv", tmp_path / "f.png"
    result = run_cli("forecast", "--input", str(daily_csv), "--horizon", "6h", "--model", "holt_winters",
                     "--output", str(out), "--plot", str(png))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["timestamp", "yhat", "yhat_lower", "yhat_upper"]
    assert len(frame) == 72
    assert (frame["yhat_lower"] <= frame["yhat"]).all() and (frame["yhat"] <= frame["yhat_upper"]).all()
    assert pd.Timestamp(frame["timestamp"].iloc[0]) == pd.Timestamp("2024-01-05 00:00", tz="UTC")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_detect_one_row_per_input_row(daily_csv, tmp_path):
    out = tmp_path / "d.csv"
    result = run_cli("detect", "--input", str(daily_csv), "--model", "mad", "--output", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    source = pd.read_csv(daily_csv)
    assert list(frame.columns) == ["timestamp", "value", "anomaly_score"]
    assert len(frame) == len(source)
    assert frame["anomaly_score"].between(0, 1).all()
    assert frame["anomaly_score"].iloc[900] == frame["anomaly_score"].max()


def test_detect_uses_the_configured_ensemble_score_members(daily_csv, tmp_path):
    """``models.ensemble_score_weights`` changes what ``detect --model ensemble`` scores with: the same
    scores as the ensemble given those members directly, not the default's."""
    from promcast.models.walkforward import walk_forward_scores

    out = tmp_path / "d.csv"
    result = run_cli("detect", "--input", str(daily_csv), "--model", "ensemble", "--output", str(out),
                     env={"PROMCAST_MODELS_ENSEMBLE_SCORE_WEIGHTS": '{"mad": 1}'})
    assert result.returncode == 0, result.stderr
    scores = pd.read_csv(out)["anomaly_score"].to_numpy()
    values = pd.read_csv(daily_csv, parse_dates=["timestamp"]).set_index("timestamp")["value"]
    values.index = values.index.tz_localize("UTC")
    expected = walk_forward_scores("ensemble", values, params={"score_weights": {"mad": 1.0}}).to_numpy()
    default = walk_forward_scores("ensemble", values).to_numpy()
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    assert not np.allclose(scores, default, atol=1e-6)


@pytest.mark.parametrize(
    "content, needles",
    [
        ("time,val\n1,2\n", ["expected timestamp,value"]),
        ("timestamp,value\nyesterday,1\n", ["row 2", "'yesterday' is not a time"]),
        ("timestamp,value\n", ["no rows"]),
    ],
)
def test_bad_csv_is_one_line(tmp_path, content, needles):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    for command in (["forecast", "--horizon", "1d"], ["detect"]):
        assert_one_line_error(run_cli(*command, "--input", str(path)), *needles)


@pytest.mark.parametrize(
    "args, needles",
    [
        (["forecast", "--horizon", "1d", "--model", "nope"], ["unknown model 'nope'", "prophet"]),
        (["forecast", "--horizon", "soon"], ["--horizon", "duration"]),
        (["forecast", "--horizon", "1d", "--interval", "95"], ["--interval", "between 0 and 1"]),
        (["forecast", "--horizon", "1d", "--model", "iforest"], ["does not forecast"]),
        (["detect", "--model", "nope"], ["unknown model 'nope'"]),
    ],
)
def test_bad_options_are_one_line(daily_csv, args, needles):
    assert_one_line_error(run_cli(*args, "--input", str(daily_csv)), *needles)


def test_missing_input_file(tmp_path):
    assert_one_line_error(run_cli("detect", "--input", str(tmp_path / "nope.csv")), "does not exist")


def small_corpus(tmp_path):
    root = tmp_path / "nab"
    (root / "art").mkdir(parents=True)
    index = pd.date_range("2024-01-01", periods=2000, freq="5min")
    windows = {}
    for k in range(2):
        values = np.sin(np.arange(2000) * 2 * np.pi / 288) + np.random.default_rng(k).normal(0, 0.05, 2000)
        values[1500 + 100 * k:1510 + 100 * k] += 5
        name = f"art/f{k}.csv"
        pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(root / name, index=False)
        start, end = index[1480 + 100 * k], index[1530 + 100 * k]
        windows[name] = [[str(start), str(end)]]
    (root / "windows.json").write_text(json.dumps(windows))
    return root


def test_evaluate_small_corpus(tmp_path):
    root = small_corpus(tmp_path)
    report = tmp_path / "report.json"
    result = run_cli("evaluate", "--nab", str(root), "--model", "mad", "--workers", "1", "--no-backtest",
                     "--output", str(report))
    assert result.returncode == 0, result.stderr
    assert "reward_low_FP_rate" in result.stdout.splitlines()[0]
    data = json.loads(report.read_text())
    assert set(data["mad"]["nab"]) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert data["mad"]["nab"]["standard"]["detected_windows"] == 2
    assert data["mad"]["nab"]["standard"]["score"] > 50


def test_evaluate_cross_validated(tmp_path):
    root = small_corpus(tmp_path)
    report = tmp_path / "report.json"
    result = run_cli("evaluate", "--nab", str(root), "--model", "mad", "--workers", "1", "--no-backtest",
                     "--cv", "2", "--output", str(report))
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[:4] == ["model", "cv_standard", "cv_reward_low_FP_rate", "cv_reward_low_FN_rate"]
    assert "standard" in header
    data = json.loads(report.read_text())["mad"]["cv"]
    assert set(data) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert [f["files"] for f in data["standard"]["folds"]] == [["art/f0.csv"], ["art/f1.csv"]]
    bad = run_cli("evaluate", "--nab", str(root), "--model", "mad", "--cv", "1")
    assert_one_line_error(bad, "--cv")


def test_evaluate_missing_folder(tmp_path):
    assert_one_line_error(run_cli("evaluate", "--nab", str(tmp_path / "none")), "none")


def test_evaluate_on_dask_matches_local(tmp_path):
    root = small_corpus(tmp_path)
    reports = {}
    for kind in ("local", "dask"):
        out = tmp_path / f"{kind}.json"
        result = run_cli("evaluate", "--nab", str(root), "--model", "mad", "--executor", kind, "--output", str(out))
        assert result.returncode == 0, result.stderr
        reports[kind] = json.loads(out.read_text())
        for model in reports[kind].values():
            model.pop("detect_seconds")
    assert reports["local"] == reports["dask"]
