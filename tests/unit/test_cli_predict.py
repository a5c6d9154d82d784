"""`promcast predict disk|memory|capacity` as a user runs it."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import assert_one_line_error, run_cli


def write_csv(path, values, freq="10min", start="2024-01-01"):
    index = pd.date_range(start, periods=len(values), freq=freq)
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(path, index=False)
    return path


@pytest.fixture
def filling_disk(tmp_path):
    t = np.arange(6 * 144)  # 6 days at 10 minutes
    percent = 40 + 5 * t / 144 + np.random.default_rng(0).normal(0, 0.2, len(t))  # +5 %/day
    return write_csv(tmp_path / "disk.csv", percent)


def test_disk_json_fields(filling_disk):
    result = run_cli("predict", "disk", "--input", str(filling_disk), "--capacity", "100")
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    for field in ("current_usage", "daily_growth", "days_to_full", "days_to_full_lower", "days_to_full_upper",
                  "full_at"):
        assert field in row
    assert row["daily_growth"] == pytest.approx(5, rel=0.15)
    assert row["days_to_full"] == pytest.approx((100 - 70) / 5, rel=0.15)  # ends near 70 %
    assert row["days_to_full_lower"] <= row["days_to_full"] <= row["days_to_full_upper"]


def test_disk_table_and_plot(filling_disk, tmp_path):
    png = tmp_path / "disk.png"
    result = run_cli("predict", "disk", "--input", str(filling_disk), "--capacity", "100", "--format", "table",
                     "--plot", str(png))
    assert result.returncode == 0, result.stderr
    assert "days_to_full" in result.stdout.splitlines()[0]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_stable_disk_is_not_filling(tmp_path):
    t = np.arange(6 * 144)
    path = write_csv(tmp_path / "stable.csv", 50 + 3 * np.sin(2 * np.pi * t / 144))
    (row,) = [json.loads(x) for x in run_cli("predict", "disk", "--input", str(path), "--capacity", "100").stdout.splitlines()]
    assert row["days_to_full"] is None and row["full_at"] is None


def test_memory_leak_from_demo_with_limit_units():
    result = run_cli("predict", "memory", "--source", "demo", "--expr", 'process_resident_memory_bytes{job="api"}',
                     "--limit", "2GiB", "--history", "7d", "--step", "10m")
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert row["is_leak"] is True and row["time_to_oom_hours"] > 0


def test_disk_from_demo_with_size_expr():
    result = run_cli("predict", "disk", "--source", "demo", "--expr", "node_filesystem_avail_bytes",
                     "--size-expr", "node_filesystem_size_bytes", "--history", "7d", "--step", "10m")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert rows[0]["labels"]["mountpoint"] == "/" and 3 < rows[0]["days_to_full"] < 7
    assert all(r["days_to_full"] is None for r in rows[1:])


@pytest.mark.parametrize(
    "kind, values, args, needles",
    [
        ("disk", None, [], ["--capacity"]),
        ("disk", "negative", ["--capacity", "100"], ["negative"]),
        ("memory", None, ["--limit", "lots"], ["--limit", "2GiB"]),
        ("memory", None, [], ["--limit"]),
        ("capacity", None, ["--capacity", "5000", "--headroom", "2"], ["--headroom"]),
        ("disk", "short", ["--capacity", "100"], ["history"]),
    ],
)
def test_predict_errors(tmp_path, filling_disk, kind, values, args, needles):
    path = filling_disk
    if values == "negative":
        path = write_csv(tmp_path / "neg.csv", -np.ones(6 * 144))
    elif values == "short":
        path = write_csv(tmp_path / "short.csv", np.arange(10.0))
    assert_one_line_error(run_cli("predict", kind, "--input", str(path), *args), *needles)


def test_capacity_costs_from_the_command_line(tmp_path):
    t = np.arange(7 * 144)
    load = 1000 + 300 * np.sin(2 * np.pi * t / 144) + np.random.default_rng(1).normal(0, 10, len(t))
    path = write_csv(tmp_path / "load.csv", load)
    result = run_cli("predict", "capacity", "--input", str(path), "--capacity", "5000", "--horizon", "3d",
                     "--unit-cost", "12.5", "--cost-period", "30d")
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["current_cost"] == pytest.approx(62_500)
    assert row["monthly_delta"] < 0 and row["scale_down_date"] is not None
    bad = run_cli("predict", "capacity", "--input", str(path), "--capacity", "5000", "--unit-cost", "cheap")
    assert_one_line_error(bad, "--unit-cost")
