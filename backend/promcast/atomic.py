"""Atomic file writes: write a temp file beside the target, fsync, then rename over it.

Temp files are named ``.<target>.<pid>.<random>.tmp``: a writer killed with ``kill -9`` cannot remove
its own, so the next run removes those whose writer is gone (:func:`remove_stale_temp_files`).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temp file for writing; on success it replaces ``path``, on error it is removed."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding, newline=None if "b" in mode else "") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


#: a temp file whose writer cannot be told (an older name, or a pid that may be reused) is stale after this
STALE_AFTER_SECONDS = 3600.0
_TEMP = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp$")


def temp_prefix(target: Path) -> str:
    """The temp file prefix for ``target``: hidden, with the writer's pid (see the module docstring)."""
    return f".{target.name}.{os.getpid()}."


def remove_stale_temp_files(directory: str | os.PathLike, *, max_age: float = STALE_AFTER_SECONDS) -> list[Path]:
    """Remove ``.*.tmp`` files in ``directory`` left by dead writers; returns what was removed.

    A file is stale when the pid in its name is no live process on this machine, or when it is older
    than ``max_age`` seconds (names without a pid, a reused pid, another machine on a shared disk).
    A live writer's temp file is left alone.
    """
    folder = Path(directory)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for path in folder.glob(".*.tmp"):
        match = _TEMP.match(path.name)
        try:
            old = now - path.stat().st_mtime > max_age
            if old or (match and not _alive(int(match.group(1)))):
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # its writer renamed or removed it meanwhile
            continue
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except (OverflowError, ValueError):
        return False
    return True
