"""Exclusive locks inside a runs folder, so two processes never compute the same thing at once.

    with exclusive(runs_dir, run_name):
        if not finished: compute

The lock is an `fcntl.flock` on `<runs_dir>/.locks/<name>.lock`: the second process waits until
the first is done (or dies: the kernel releases the lock with the process), then finds the
result finished and reuses it. With `wait=False` a lock another process holds yields None at
once, so a caller with other work can come back to it later. Lock files are left in place
(empty; removing them would race).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from iclft.errors import UserError
from iclft.runs.layout import lock_path


@contextmanager
def exclusive(runs_dir: str | Path, name: str, wait: bool = True) -> Iterator[Path | None]:
    path = lock_path(Path(runs_dir), name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        except OSError as e:  # e.g. a network filesystem without flock
            raise UserError(f"{path}: cannot lock ({e.strerror}); use a runs folder on a local filesystem") from None
        try:
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
