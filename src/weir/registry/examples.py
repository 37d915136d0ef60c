"""Input examples kept with a version (at most ``MAX_ROWS`` rows), so a server can check a version it loads.

Tables are stored as Parquet, arrays as ``.npy`` without pickle; examples that neither can hold
(object arrays) are not stored, with a log line saying so.

>>> import pandas as pd
>>> data, name = encode(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
>>> name, decode(data, name).to_dict("list")
('input_example.parquet', {'a': [1, 2], 'b': ['x', 'y']})
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
import pandas as pd

from weir.registry.signature import as_frame
from weir.types import ModelInput

logger = logging.getLogger(__name__)

MAX_ROWS = 100


def encode(example: ModelInput) -> tuple[bytes, str] | None:
    """The example's first rows as bytes and a file name, or ``None`` when it cannot be stored safely."""
    buffer = io.BytesIO()
    if isinstance(example, np.ndarray) or (isinstance(example, list) and example and not isinstance(example[0], dict)):
        array = np.asarray(example)[:MAX_ROWS]
        if array.dtype.kind == "O":
            logger.info("input example not stored: object arrays need pickle")
            return None
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue(), "input_example.npy"
    frame = as_frame(example).iloc[:MAX_ROWS]
    try:
        frame.to_parquet(buffer, index=False)
    except (ValueError, TypeError, ImportError) as exc:  # pyarrow cannot hold some object columns
        logger.info("input example not stored: %s", exc)
        return None
    return buffer.getvalue(), "input_example.parquet"


def decode(data: bytes, filename: str) -> Any:
    if filename.endswith(".npy"):
        return np.load(io.BytesIO(data), allow_pickle=False)
    return pd.read_parquet(io.BytesIO(data))
