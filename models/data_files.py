"""The street's data files (data/*.toml) as a version, so that what is read from them is read
again once an operator edits one: a new FAQ entry or word answers from the next message on."""

from __future__ import annotations

import time
from pathlib import Path

CHECK_SECONDS = 1.0  # how often the files are looked at (a stat each), at most
Version = tuple[tuple[str, int], ...]
_seen: dict[Path, tuple[float, Version]] = {}


def data_version(data_dir: Path) -> Version:
    """The names and modification times of the directory's data files (the examples too)."""
    now = time.monotonic()
    held = _seen.get(data_dir)
    if held is not None and now - held[0] < CHECK_SECONDS:
        return held[1]
    files = [*data_dir.glob("*.toml"), *data_dir.glob("*/*.toml")]
    version = tuple(
        sorted((p.relative_to(data_dir).as_posix(), p.stat().st_mtime_ns) for p in files)
    )
    _seen[data_dir] = (now, version)
    return version
