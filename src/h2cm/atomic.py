"""Atomic writes: build the new file or folder beside its target, then rename it into place.

Every file h2cm writes (checkpoints, run-directory JSON, cubes, simulations, evaluations, reports)
goes through this module, so a crash or ``kill -9`` at any moment leaves either the previous
complete output or none, never a partial one. The temporary sits in the target's folder (a rename
within one file system is atomic) and keeps the target's suffix (so format detection by suffix
still works). A folder target is swapped in two renames (old aside, new in, old removed); between
them the target is briefly absent, never partial.

    with atomic_path(out) as tmp:      # tmp: a fresh path beside out, nothing there yet
        ds.to_zarr(tmp)                # write a file or a folder at tmp
    # out now holds the new data; on an exception tmp is removed and out is untouched
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def temporary_path(path: str | os.PathLike) -> Path:
    """A fresh hidden path beside ``path`` with the same suffix (nothing is created)."""
    path = Path(path)
    return path.parent / f".{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}"


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a leftover of an interrupted atomic write (safe to delete)."""
    name = Path(path).name
    return name.startswith(".") and (".tmp-" in name or ".old-" in name)


def remove_path(path: str | os.PathLike) -> None:
    """Remove a file, link or folder; nothing when absent."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Move the finished file or folder ``tmp`` to ``path`` (same folder), replacing what was there."""
    tmp, path = Path(tmp), Path(path)
    _fsync(tmp)
    if path.is_dir() and not path.is_symlink():
        old = path.parent / f".{path.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.replace(path, old)
        os.replace(tmp, path)
        remove_path(old)
    else:
        os.replace(tmp, path)
    return path


@contextmanager
def atomic_path(path: str | os.PathLike, *, mkdir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    ``mkdir=True`` creates the temporary as an empty folder (for outputs that are folders of files).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    if mkdir:
        tmp.mkdir()
    try:
        yield tmp
        commit(tmp, path)
    finally:
        remove_path(tmp)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_json(path: str | os.PathLike, obj: Any, **kwargs: Any) -> Path:
    kwargs.setdefault("indent", 1)
    kwargs.setdefault("default", str)
    return write_text(path, json.dumps(obj, **kwargs) + "\n")


def append_line(path: str | os.PathLike, line: str) -> Path:
    """Append one line to a log (appends are not renames: a crash can at worst cut the last line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(line.rstrip("\n") + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path
