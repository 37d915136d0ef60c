"""The fingerprint of a training frame: the definitions, the sources' snapshots and the entity rows.

The same call on the same inputs gives the same fingerprint; the registry records it as the lineage
of a model trained on the frame.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import orjson
import pandas as pd
import pyarrow as pa


def table_digest(table: pa.Table) -> str:
    """SHA-256 of a table's column names, types and values. Values are hashed through pandas, which
    hashes a missing value the same way every time (Arrow's bytes under a null slot are arbitrary)."""
    hasher = hashlib.sha256(repr([(f.name, str(f.type)) for f in table.schema]).encode())
    for column in table.columns if table.num_rows else ():
        try:
            hashed = pd.util.hash_pandas_object(column.to_pandas(), index=False).to_numpy().tobytes()
        except TypeError:  # nested values (lists, structs): their Python form
            hashed = repr(column.to_pylist()).encode()
        hasher.update(hashed)
    return hasher.hexdigest()


def frame_fingerprint(parts: Mapping[str, object], entities: pa.Table) -> str:
    hasher = hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS))
    hasher.update(table_digest(entities).encode())
    return "sha256:" + hasher.hexdigest()
