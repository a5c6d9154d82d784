"""kill -9 of a batch run leaves nothing behind: no live worker after 10 s, no stale temp file next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from conftest import REPO
from promcast.atomic import atomic_write_text, remove_stale_temp_files, temp_prefix
from promcast.store import ModelStore

#: the acceptance bound: every worker gone this long after its parent was killed
WORKERS_GONE_WITHIN = 10.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMCAST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "backend"), env.get("PYTHONPATH", "")])
    return env


def _descendants_once_started(proc: subprocess.Popen, at_least: int, within: float = 120.0) -> list[psutil.Process]:
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended before its workers started:\n{proc.stderr.read()}"
        children = parent.children(recursive=True)
        if len(children) >= at_least:
            time.sleep(1.0)  # let every worker reach its initializer
            return parent.children(recursive=True)
        time.sleep(0.2)
    pytest.fail(f"fewer than {at_least} worker processes after {within:g}s")


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    live = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                live.append(p)
        except psutil.NoSuchProcess:
            pass
    return live


def _kill_and_wait(proc: subprocess.Popen, workers: list[psutil.Process]) -> list[psutil.Process]:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + WORKERS_GONE_WITHIN
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _alive(workers)
    for p in left:  # do not leak them into the rest of the test run
        p.kill()
    return left


def test_kill_9_of_a_local_pool_owner_leaves_no_live_worker():
    script = textwrap.dedent("""
        import time
        from promcast.executors import LocalExecutor
        with LocalExecutor(workers=2) as ex:
            ex.map(time.sleep, [600, 600])
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env=_env(), stderr=subprocess.PIPE, text=True)
    try:
        workers = _descendants_once_started(proc, at_least=3)  # two workers and the resource tracker
        assert _kill_and_wait(proc, workers) == []
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_kill_9_of_promcast_fit_leaves_no_live_worker(tmp_path):
    args = [sys.executable, "-m", "promcast", "fit", "--source", "demo", "--expr", '{__name__=~".+"}',
            "--model", "prophet", "--store", str(tmp_path / "store")]
    proc = subprocess.Popen(args, env=_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            cwd=tmp_path)
    try:
        workers = _descendants_once_started(proc, at_least=2)
        assert _kill_and_wait(proc, workers) == []
    finally:
        if proc.poll() is None:
            proc.kill()


# --------------------------------------------------------------------------- temp files


def _temp(folder: Path, target: str, pid: int, age: float = 0.0) -> Path:
    path = folder / f".{target}.{pid}.abcd1234.tmp"
    path.write_text("partial")
    if age:
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_files_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = _temp(tmp_path, "index.json", _dead_pid())
    mine = _temp(tmp_path, "index.json", os.getpid())
    legacy_old = tmp_path / ".rules.yaml.k2j3h4g5.tmp"  # before pids were in the name
    legacy_old.write_text("partial")
    os.utime(legacy_old, (time.time() - 7200, time.time() - 7200))
    legacy_new = tmp_path / ".rules.yaml.zz9y8x7w.tmp"
    legacy_new.write_text("partial")
    keep = tmp_path / "index.json"
    keep.write_text("{}")
    assert sorted(remove_stale_temp_files(tmp_path)) == sorted([dead, legacy_old])
    assert mine.exists() and legacy_new.exists() and keep.exists()


def test_atomic_writes_name_their_temp_files_with_the_writer_pid(tmp_path):
    assert temp_prefix(tmp_path / "x.yaml") == f".x.yaml.{os.getpid()}."
    atomic_write_text(tmp_path / "x.yaml", "a: 1\n")
    assert [p.name for p in tmp_path.iterdir()] == ["x.yaml"]


def test_the_model_store_and_rule_writer_clean_up_on_their_next_run(tmp_path):
    from promcast.rules.write import write_files

    store_dir = tmp_path / "store"
    store_dir.mkdir()
    stale = _temp(store_dir, "abc.model", _dead_pid())
    ModelStore(store_dir)
    assert not stale.exists()

    rules = tmp_path / "rules"
    rules.mkdir()
    stale = _temp(rules, "demo.rules.yaml", _dead_pid())
    write_files(rules, {"demo.rules.yaml": "groups: []\n"}, force=True)
    assert not stale.exists()
    assert sorted(p.name for p in rules.iterdir()) == ["demo.rules.yaml"]
