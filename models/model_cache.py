"""Trained models kept on disk between runs, so that a restart (or another test process) with
the same data and code loads the model in a blink instead of training it again.

A model is stored under the hash of everything it was made from: the data files, the code of
`models/` (which decides how a message is read), and the versions of scikit-learn and numpy.
Any change gives another hash, so a stale model is never loaded. The folder is private to the
user running Linli (LINLI_CACHE_DIR, else ~/.cache/linli); what is in it was written by Linli.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import numpy
import sklearn

Model = TypeVar("Model")
MODELS = Path(__file__).resolve().parent
LIBRARIES = ("jieba", "rank-bm25", "rapidfuzz", "opencc", "pypinyin", "scipy")
_log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where trained models are kept."""
    return Path(os.environ.get("LINLI_CACHE_DIR") or Path.home() / ".cache" / "linli")


def fingerprint(files: Iterable[Path], root: Path) -> str:
    """The hash of the given data files (names and contents), our code and the libraries that
    read a message before the model does."""
    versions = " ".join(_version(name) for name in LIBRARIES)
    digest = hashlib.sha256(f"{sklearn.__version__} {numpy.__version__} {versions}".encode())
    for path in sorted(MODELS.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def cached(key_of: Callable[[], str], make: Callable[[], Model]) -> Model:
    """The model stored under the key, else made now and stored (only if the key still holds
    once it is made: data edited meanwhile is not filed under the new data's key)."""
    key, folder = key_of(), cache_dir()
    path = folder / f"{key}.pickle"
    if _private(folder):
        try:
            with path.open("rb") as held:
                model: Model = pickle.load(held)  # noqa: S301 - Linli wrote it, in a 0700 folder
            return model
        except FileNotFoundError:
            pass
        except Exception:  # a torn or foreign file: trained again and replaced
            _log.warning("a cached model could not be read; training it again")
    made = make()
    if key_of() == key:
        _store(path, made)
    return made


def _private(folder: Path) -> bool:
    """Whether the folder is ours alone (a model is never read from a folder others may write)."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        held = folder.stat()
    except OSError:
        return False
    if held.st_uid != os.getuid() or held.st_mode & 0o077:
        _log.warning("%s is not private to this user: trained models are not kept there", folder)
        return False
    return True


def _store(path: Path, model: object) -> None:
    if not _private(path.parent):
        return
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
            try:
                pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                Path(out.name).unlink(missing_ok=True)
                raise
        os.replace(out.name, path)  # whole or not at all, also with two processes at once
    except Exception:
        _log.warning("the trained model could not be kept in %s", path.parent)
