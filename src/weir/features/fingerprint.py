"""The fingerprint of a training frame: the definitions, the sources' snapshots and the entity rows.

The same call on the same inputs gives the same fingerprint; the registry records it as the lineage
of a model trained on the frame.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import orjson
import pyarrow as pa


def table_digest(table: pa.Table) -> str:
    """SHA-256 of a table's schema and values (Arrow IPC of one contiguous chunk per column)."""
    sink = pa.BufferOutputStream()
    table = table.combine_chunks().replace_schema_metadata(None)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()


def frame_fingerprint(parts: Mapping[str, object], entities: pa.Table) -> str:
    hasher = hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS))
    hasher.update(table_digest(entities).encode())
    return "sha256:" + hasher.hexdigest()
