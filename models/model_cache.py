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
from pathlib import Path
from typing import TypeVar

import numpy
import sklearn

Model = TypeVar("Model")
MODELS = Path(__file__).resolve().parent
_log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where trained models are kept."""
    return Path(os.environ.get("LINLI_CACHE_DIR") or Path.home() / ".cache" / "linli")


def fingerprint(files: Iterable[Path], root: Path) -> str:
    """The hash of the given data files (names and contents), our code and the libraries."""
    digest = hashlib.sha256(f"{sklearn.__version__} {numpy.__version__}".encode())
    for path in sorted(MODELS.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cached(key: str, make: Callable[[], Model]) -> Model:
    """The model stored under key, else made now and stored (a failed store only logs)."""
    path = cache_dir() / f"{key}.pickle"
    try:
        with path.open("rb") as held:
            model: Model = pickle.load(held)  # noqa: S301 - Linli wrote it, in a 0700 folder
            return model
    except FileNotFoundError:
        pass
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        _log.warning("a cached model could not be read; training it again")
    made = make()
    _store(path, made)
    return made


def _store(path: Path, model: object) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
            pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(out.name, path)  # whole or not at all, also with two processes at once
    except OSError:
        _log.warning("the trained model could not be kept in %s", path.parent)
