"""Lineage: where a model version came from (data fingerprint, features, code, parent).

>>> import numpy as np
>>> data_fingerprint(np.arange(6).reshape(3, 2))[:15]
'sha256:ecd2a4a2'
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weir.errors import ValidationError
from weir.types import JSONDict

logger = logging.getLogger(__name__)


def data_fingerprint(data: Any) -> str:
    """A stable SHA-256 over a training set's values, column names and types."""
    hasher = hashlib.sha256()
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        hasher.update(repr([(str(c), str(t)) for c, t in data.dtypes.items()]).encode())
        hasher.update(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes())
    else:
        try:
            array = np.ascontiguousarray(np.asarray(data))
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"Cannot fingerprint training data of type {type(data).__name__}: {exc}.") from exc
        if array.dtype.kind == "O":
            hasher.update(pd.util.hash_array(array.ravel()).tobytes())
        else:
            hasher.update(array.tobytes())
        hasher.update(f"{array.dtype.str}{array.shape}".encode())
    return "sha256:" + hasher.hexdigest()


def code_version(path: str | Path = ".") -> JSONDict | None:
    """The git commit (and whether the tree has uncommitted changes) of ``path``, if it is a repo."""
    try:
        commit = _git(path, "rev-parse", "HEAD")
        if commit is None:
            return None
        status = _git(path, "status", "--porcelain", "--untracked-files=no")
        remote = _git(path, "config", "--get", "remote.origin.url")
    except OSError:
        return None
    info: JSONDict = {"commit": commit, "dirty": bool(status)}
    if remote:
        info["remote"] = remote
    return info


def _git(path: str | Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=5, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip()
