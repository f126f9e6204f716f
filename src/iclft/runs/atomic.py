"""One way to create a folder atomically: write into a private partial folder, rename it into place.

    with atomic_dir(final) as tmp:
        (tmp / "a.json").write_text(...)
    # now `final` exists with everything written, or (on an exception) nothing was left behind

If `final` already exists when the block ends (another process finished first), the own partial
folder is discarded and `final` is kept. Partial folders of processes that are no longer alive
(killed runs) are removed when the next atomic_dir for the same name starts.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from iclft.runs.layout import parse_partial, partial_name


@contextmanager
def atomic_dir(final: str | Path, replace: bool = False) -> Iterator[Path]:
    """`replace`: an existing `final` (e.g. a run scored with other weights) is swapped out only
    once the new folder is complete, so a failing attempt leaves it as it was."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_partials(final)
    tmp = final.parent / partial_name(final.name, os.getpid(), secrets.token_hex(4))
    tmp.mkdir()
    try:
        yield tmp
        if replace and final.exists():
            old = final.parent / partial_name(final.name, os.getpid(), secrets.token_hex(4))
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        elif not final.exists():
            try:
                tmp.rename(final)
            except OSError:  # another process renamed its folder into place first
                if not final.exists():
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def clean_stale_partials(final: Path) -> list[Path]:
    """Remove partial folders for `final` left by processes that are gone; return them."""
    removed = []
    for child in final.parent.glob(f".{final.name}.*partial"):
        parsed = parse_partial(child.name)
        if parsed is None or parsed[0] != final.name:
            continue
        pid = parsed[1]
        if pid is None or not pid_alive(pid):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed
