"""Executors, batch fits and the model store: local pool and Dask LocalCluster give the same fits.

Real components throughout: the demo source pinned to a fixed time, real models, a real spawn pool
and a real two-worker Dask LocalCluster (started once for the module and closed after it).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import assert_one_line_error, run_cli
from promcast.batchfit import plan, run_fits, series_expr
from promcast.durations import parse_duration
from promcast.errors import InputError
from promcast.executors import THREAD_ENV, DaskExecutor, LocalExecutor, make_executor, thread_env
from promcast.models import load_model
from promcast.sources.spec import SourceSpec
from promcast.store import INDEX, ModelStore, StoreEntry

NOW = pd.Timestamp("2026-11-20T00:00:00Z")
END = NOW - pd.Timedelta(hours=1)
EXPR = "node_filesystem_avail_bytes"
FAST_MODELS = ("mad", "seasonal_naive", "holt_winters")


def _tasks(model: str, expr: str = EXPR):
    spec = SourceSpec("demo", now=NOW)
    return plan(spec, spec.open(), expr, model, {}, END - pd.Timedelta(days=3), END, pd.Timedelta(minutes=5))


@pytest.fixture(scope="module")
def dask_executor():
    executor = DaskExecutor(n_workers=2)
    try:
        yield executor
    finally:
        executor.close()
    assert executor.client is None


@pytest.fixture(scope="module")
def local_executor():
    with LocalExecutor(workers=2) as executor:
        yield executor


# ------------------------------------------------------------------------------------------ executors
@pytest.mark.parametrize("which", ["local", "dask"])
def test_map_collects_failures_without_aborting(which, local_executor, dask_executor):
    executor = local_executor if which == "local" else dask_executor
    results = executor.map(parse_duration, ["1h", "bogus", "2m"])
    assert [r.index for r in results] == [0, 1, 2]
    assert [r.ok for r in results] == [True, False, True]
    assert results[0].value.total_seconds() == 3600 and results[2].value.total_seconds() == 120
    assert "bogus" in results[1].error


@pytest.mark.parametrize("which", ["local", "dask"])
def test_large_maps_keep_order_and_failures_in_batches(which, local_executor, dask_executor):
    executor = local_executor if which == "local" else dask_executor
    tasks = [f"{i}m" if i % 7 else "bad" for i in range(1, 60)]  # many tasks per batch
    results = executor.map(parse_duration, tasks)
    assert [r.index for r in results] == list(range(len(tasks)))
    assert [r.ok for r in results] == [t != "bad" for t in tasks]
    assert [r.value.total_seconds() for r in results if r.ok] == [60.0 * i for i in range(1, 60) if i % 7]


def test_dask_executor_runs_two_workers(dask_executor):
    assert dask_executor.workers == 2


def test_make_executor_rejects_bad_choices():
    with pytest.raises(InputError, match="unknown executor"):
        make_executor("spark")
    with pytest.raises(InputError, match="--executor dask"):
        make_executor("local", "tcp://127.0.0.1:8786")


@pytest.mark.parametrize("which", ["local", "dask"])
def test_workers_pin_their_threads(which, local_executor, dask_executor):
    executor = local_executor if which == "local" else dask_executor
    for result in executor.map(thread_env, range(4)):
        assert result.value == THREAD_ENV


# ------------------------------------------------------------------------------------------ equivalence
@pytest.mark.parametrize("model", FAST_MODELS)
def test_local_and_dask_produce_identical_fits(model, local_executor, dask_executor):
    tasks = _tasks(model)
    assert len(tasks) == 3  # the demo's three filesystems
    local = run_fits(tasks, local_executor)
    dask = run_fits(tasks, dask_executor)
    inline = run_fits(tasks, LocalExecutor(workers=1))
    assert not local.failures and not dask.failures and not inline.failures
    assert [o.labels for o in local.outputs] == [o.labels for o in dask.outputs] == [t.labels for t in tasks]
    for a, b, c in zip(local.outputs, dask.outputs, inline.outputs):
        assert a.model == b.model == model
        fa, fb, fc = (load_model(o.data).predict("6h") for o in (a, b, c))
        pd.testing.assert_frame_equal(fa, fb)
        pd.testing.assert_frame_equal(fa, fc)
        assert a.data == b.data == c.data


def test_worker_fetch_matches_a_direct_fetch():
    """The narrowed per-series query returns exactly the series the full expression returns."""
    task = _tasks("mad")[1]
    from promcast.batchfit import fetch_series

    full = {h.legend: h for h in task.source.open().query_range(EXPR, task.start, task.end, task.step)}
    alone = fetch_series(task)
    pd.testing.assert_series_equal(alone.values, full[alone.legend].values)
    assert 'mountpoint="' in series_expr(EXPR, task.labels)


# ------------------------------------------------------------------------------------------ failures + store
def test_failing_series_is_reported_and_the_others_are_stored(tmp_path, local_executor):
    tasks = _tasks("mad")
    # a series that vanished between discovery and its fit (churn in a real fleet)
    gone = {**tasks[0].labels, "mountpoint": "/gone"}
    tasks = [tasks[0], type(tasks[0])(**{**vars(tasks[0]), "labels": gone}), *tasks[1:]]
    store = ModelStore(tmp_path / "store")
    summary = run_fits(tasks, local_executor, store)
    assert len(summary.outputs) == 3 and len(summary.stored) == 3
    assert len(summary.failures) == 1 and 'mountpoint="/gone"' in summary.failures[0].series
    assert "failed" in summary.lines()[0] and "/gone" in summary.lines()[-1]
    # a fresh store object reads the index written to disk and gives back working models
    reread = ModelStore(tmp_path / "store")
    assert len(reread.entries()) == 3
    for task in (tasks[0], tasks[2], tasks[3]):
        model = reread.get(EXPR, task.labels, "mad", {}, source=task.source_name)
        assert model is not None and model.name == "mad"
        assert len(model.predict("1h")) == 12
    assert reread.get(EXPR, gone, "mad", {}, source=tasks[0].source_name) is None
    assert reread.get(EXPR, tasks[0].labels, "mad", {"window": 3}, source=tasks[0].source_name) is None  # other params
    assert reread.get(EXPR, tasks[0].labels, "mad", {}) is None  # another source (none named), another key


def test_store_overwrites_a_key_and_keeps_others(tmp_path):
    from promcast.models import fit_with_fallback

    rng = np.random.default_rng(0)
    idx = pd.date_range("2026-01-01", periods=300, freq="5min", tz="UTC")
    a = fit_with_fallback("mad", pd.Series(rng.normal(10, 1, 300), index=idx))
    b = fit_with_fallback("mad", pd.Series(rng.normal(50, 1, 300), index=idx))
    store = ModelStore(tmp_path / "s")
    store.put(StoreEntry("", "up", {"job": "a"}, "mad"), a.to_bytes())
    store.put(StoreEntry("", "up", {"job": "b"}, "mad"), a.to_bytes())
    store.put(StoreEntry("", "up", {"job": "a"}, "mad"), b.to_bytes())
    assert len(ModelStore(tmp_path / "s").entries()) == 2
    got = ModelStore(tmp_path / "s").get("up", {"job": "a"}, "mad")
    assert got.predict("5m")["yhat"].iloc[0] == pytest.approx(b.predict("5m")["yhat"].iloc[0])
    assert not [p for p in (tmp_path / "s").iterdir() if p.name.endswith(".tmp")]


def test_store_with_a_broken_index_says_what_to_do(tmp_path):
    (tmp_path / INDEX).write_text("{not json")
    with pytest.raises(InputError, match="cannot read model store index"):
        ModelStore(tmp_path).entries()


# ------------------------------------------------------------------------------------------ CLI
def test_cli_fit_stores_every_series(tmp_path):
    result = run_cli("fit", "--source", "demo", "--expr", EXPR, "--model", "mad", "--history", "2d",
                     "--end", END.isoformat(), "--store", str(tmp_path / "store"),
                     env={"PROMCAST_DEMO_NOW": NOW.isoformat()})
    assert result.returncode == 0, result.stderr
    assert "fitted 3 series, stored 3" in result.stdout
    index = json.loads((tmp_path / "store" / INDEX).read_text())
    assert sorted(e["labels"]["mountpoint"] for e in index["entries"].values()) == ["/", "/data", "/var/log"]


def test_cli_fit_takes_the_executor_from_the_environment(tmp_path):
    result = run_cli("fit", "--source", "demo", "--expr", EXPR, "--model", "mad", "--history", "1d",
                     "--end", END.isoformat(), "--store", str(tmp_path), env={"PROMCAST_EXECUTOR_KIND": "dask", "PROMCAST_DEMO_NOW": NOW.isoformat()})
    assert result.returncode == 0, result.stderr
    assert "on the dask executor (2 workers)" in result.stderr and "fitted 3 series" in result.stdout


def test_cli_fit_user_errors_are_one_line(tmp_path):
    assert_one_line_error(run_cli("fit", "--source", "demo", "--expr", EXPR, "--model", "nope",
                                  "--store", str(tmp_path)), "unknown model")
    assert_one_line_error(run_cli("fit", "--source", "demo", "--expr", 'no_such_metric', "--model", "mad",
                                  "--store", str(tmp_path)), "matched no series")
    assert_one_line_error(run_cli("fit", "--source", "demo", "--expr", EXPR, "--model", "mad",
                                  "--scheduler", "tcp://127.0.0.1:8786"), "--executor dask")


def test_cli_fit_uses_the_settings_ensemble_weights_like_the_service(tmp_path):
    """``promcast fit --model ensemble`` fits with ``models.ensemble_weights`` and
    ``models.ensemble_score_weights``, as the service's pre-fits do (store keys leave them out, so a stored
    fit must already be the one the service would make)."""
    from promcast.store import ModelStore

    result = run_cli("fit", "--source", "demo", "--expr", EXPR, "--model", "ensemble", "--history", "2d",
                     "--end", END.isoformat(), "--store", str(tmp_path / "store"),
                     env={"PROMCAST_DEMO_NOW": NOW.isoformat(), "PROMCAST_MODELS_ENSEMBLE_WEIGHTS": '{"mad": 1}',
                          "PROMCAST_MODELS_ENSEMBLE_SCORE_WEIGHTS": '{"mad": 1}'})
    assert result.returncode == 0, result.stderr
    store = ModelStore(tmp_path / "store")
    for key in store.entries():
        model = store.load(key)
        assert model.weights_ == {"mad": 1.0} and model.score_weights_ == {"mad": 1.0}
