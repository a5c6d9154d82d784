"""Where batch work runs: a local process pool or a Dask cluster, behind one small interface.

``Executor.map(fn, tasks)`` calls ``fn(task)`` for every task and returns one :class:`Result` per task,
in order. A task that raises becomes a Result carrying the error message; it never aborts the others,
so a fleet run reports its failing series at the end. ``fn`` must be a module-level function and the
tasks plain, picklable data (settings, expressions, label sets; never live models or fetched data),
because they travel to other processes or machines.

Workers are pinned to one thread each (OpenMP, MKL, OpenBLAS, TensorFlow; models use ``n_jobs=1``):
the parallelism is one series per process, and libraries spawning a thread per core on top of that
would oversubscribe the cores.
"""

from __future__ import annotations

import logging
import os
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from .errors import InputError, PromcastError

log = logging.getLogger(__name__)

#: environment variables that cap the threads of native libraries (read when they load)
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
EXECUTORS = ("local", "dask")
#: Dask batches per worker in one ``map`` (local pools chunk the same way through ``chunksize``)
BATCHES_PER_WORKER = 8


@dataclass(frozen=True)
class Result:
    """The outcome of one task: ``value`` when it worked, else ``error`` (one line, for the report)."""

    index: int
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def pin_threads() -> None:
    """Cap native thread pools at one thread in this process (worker initializer).

    The environment variables cover libraries not imported yet; threadpoolctl caps BLAS/OpenMP pools
    already loaded, and TensorFlow is configured directly when it is already imported.
    """
    os.environ.update(THREAD_ENV)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # pragma: no cover - threadpoolctl missing or a pool that refuses
        pass
    import sys

    tf = sys.modules.get("tensorflow")
    if tf is not None:  # pragma: no cover - only when a worker imported TensorFlow before pinning
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass


#: how often a worker checks that the process that started it is still alive
PARENT_CHECK_SECONDS = 0.5


def exit_with_parent(interval: float = PARENT_CHECK_SECONDS) -> None:
    """End this process soon after its parent dies, however the parent died (kill -9 included).

    A pool worker otherwise outlives a killed ``promcast fit``: it waits on its task queue or runs a
    long fit, holding its memory, and keeps multiprocessing's resource tracker alive too. A daemon
    thread polls the parent pid (a dead parent's children are re-parented, so the pid changes); this
    works on every POSIX system and, unlike ``PR_SET_PDEATHSIG``, does not depend on which of the
    parent's threads started the worker.
    """
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="promcast-exit-with-parent", daemon=True).start()


def init_worker() -> None:
    """Pool worker initializer: one thread per native library, and no life beyond the parent."""
    exit_with_parent()
    pin_threads()


def thread_env(_: object = None) -> dict[str, str | None]:
    """This process's thread caps (the :data:`THREAD_ENV` variables): map it to check the workers."""
    return {name: os.environ.get(name) for name in THREAD_ENV}


def call_task(fn: Callable[[Any], Any], task: Any, index: int) -> Result:
    """Run one task and turn any exception into a Result (runs in the worker)."""
    try:
        return Result(index, value=fn(task))
    except PromcastError as exc:
        return Result(index, error=str(exc))
    except Exception as exc:  # a model tripping over odd data must not take the other tasks down
        log.debug("task %d failed:\n%s", index, traceback.format_exc())
        return Result(index, error=f"{type(exc).__name__}: {exc}")


def call_batch(fn: Callable[[Any], Any], tasks: Sequence[Any], start: int) -> list[Result]:
    """Run a slice of tasks in one worker call (amortises the scheduler's per-task overhead)."""
    return [call_task(fn, task, start + i) for i, task in enumerate(tasks)]


def _call_indexed(args: tuple[Callable[[Any], Any], Any, int]) -> Result:
    fn, task, index = args
    return call_task(fn, task, index)


class Executor:
    """Runs ``fn`` over tasks somewhere; use as a context manager so pools and clusters are closed."""

    name = "executor"

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Result]:  # pragma: no cover
        raise NotImplementedError

    @property
    def workers(self) -> int:  # pragma: no cover - informational
        return 1

    def close(self) -> None:
        """Release processes or the cluster connection."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalExecutor(Executor):
    """A process pool sized to the cores (spawn context: no inherited threads or locks)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        if workers is not None and workers < 1:
            raise InputError(f"bad worker count {workers}: expected 1 or more")
        self._workers = workers or os.cpu_count() or 1
        self._pool = None
        self._pool_size = 0

    @property
    def workers(self) -> int:
        return self._workers

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Result]:
        tasks = list(tasks)
        if not tasks:
            return []
        if self._workers == 1 or len(tasks) == 1:
            # one process: no pool to start; the caller's process keeps its own thread settings
            return [call_task(fn, task, i) for i, task in enumerate(tasks)]
        pool = self._ensure_pool(min(self._workers, len(tasks)))
        chunksize = max(1, len(tasks) // (self._workers * BATCHES_PER_WORKER))
        try:
            return list(pool.map(_call_indexed, [(fn, t, i) for i, t in enumerate(tasks)], chunksize=chunksize))
        except Exception as exc:  # a worker died (e.g. killed for memory): report, do not hide
            from concurrent.futures.process import BrokenProcessPool

            if not isinstance(exc, BrokenProcessPool):
                raise
            self.close()
            raise PromcastError(f"a local worker process died ({exc}); try fewer workers or more memory") from exc

    def _ensure_pool(self, size: int):
        """A pool of at least ``size`` processes (started no bigger than a batch needs)."""
        if self._pool is not None and self._pool_size < size:
            self.close()
        if self._pool is None:
            self._pool_size = size
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=size,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=init_worker)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """Tasks on Dask distributed: a scheduler address, ``DASK_SCHEDULER_ADDRESS``, or a LocalCluster.

    A cluster's workers need promcast installed (same version) so ``fn`` can be imported there.
    The LocalCluster started when no scheduler is given is closed with the executor.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, *, n_workers: int = 2):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError("--executor dask needs dask.distributed (pip install 'dask[distributed]'); "
                             "or use --executor local") from None
        address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            logging.getLogger("distributed").setLevel(logging.WARNING)  # cluster start/stop chatter
        self._cluster = None
        try:
            if address:
                self.client = Client(address)  # waits distributed.comm.timeouts.connect (30s by default)
            else:
                # the environment reaches the worker processes before numpy/TensorFlow load there
                self._cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None, env=dict(THREAD_ENV))
                self.client = Client(self._cluster)
        except OSError as exc:
            self._close_cluster()
            raise InputError(f"cannot connect to the Dask scheduler {address}: {exc}; check --scheduler "
                             "or DASK_SCHEDULER_ADDRESS (tcp://HOST:8786)") from exc
        self.address = address or self._cluster.scheduler_address
        try:
            self.client.register_plugin(_pin_threads_plugin())
        except Exception as exc:  # pragma: no cover - an old scheduler; threads stay unpinned there
            log.warning("could not pin worker threads on %s: %s", self.address, exc)

    @property
    def workers(self) -> int:
        """Task slots on the cluster now: worker threads summed (one per worker process when pinned)."""
        return int(sum(self.client.nthreads().values()))

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Result]:
        tasks = list(tasks)
        if not tasks:
            return []
        # a few batches per worker: small tasks (mad: milliseconds) would otherwise pay the
        # scheduler's per-task cost, while several batches per worker still balance slow series
        size = max(1, -(-len(tasks) // (max(1, self.workers) * BATCHES_PER_WORKER)))
        starts = list(range(0, len(tasks), size))
        futures = self.client.map(call_batch, [fn] * len(starts), [tasks[s:s + size] for s in starts], starts,
                                  pure=False)
        out: list[Result] = []
        for start, future in zip(starts, futures):
            try:
                out.extend(future.result())
            except Exception as exc:  # the worker running it died or the batch could not be unpickled
                message = f"dask: {type(exc).__name__}: {exc}"
                out.extend(Result(i, error=message) for i in range(start, min(start + size, len(tasks))))
        return out

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
            self.client = None
        self._close_cluster()

    def _close_cluster(self) -> None:
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _pin_threads_plugin():
    """A Dask WorkerPlugin running :func:`pin_threads` on every current and future worker."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class PinThreads(WorkerPlugin):
        name = "promcast-pin-threads"

        def setup(self, worker) -> None:
            pin_threads()

    return PinThreads()


def make_executor(kind: str | None = "local", scheduler: str | None = None, *, workers: int | None = None) -> Executor:
    """The executor named ``kind`` (local | dask); ``scheduler`` only applies to dask."""
    kind = (kind or "local").strip().lower()
    if kind == "local":
        if scheduler:
            raise InputError("--scheduler applies to --executor dask only")
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler, **({"n_workers": workers} if workers else {}))
    raise InputError(f"unknown executor {kind!r}; use one of: {', '.join(EXECUTORS)}")


def failures(results: Iterable[Result]) -> list[Result]:
    return [r for r in results if not r.ok]


__all__ = ["EXECUTORS", "DaskExecutor", "Executor", "LocalExecutor", "Result", "THREAD_ENV", "call_batch", "call_task",
           "exit_with_parent", "failures", "init_worker", "make_executor", "pin_threads", "thread_env"]
