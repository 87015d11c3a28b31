"""Reader for the IDX format of the MNIST family (gzip-compressed)."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from genzoo.errors import DataError

__all__ = ["read_idx"]

_DTYPES = {0x08: np.uint8}


def read_idx(path: Path) -> np.ndarray:
    """Read a gzip-compressed IDX file into a numpy array (uint8, shape from the header)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable gzip file ({exc})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code not in _DTYPES:
        raise DataError(f"{path}: bad IDX magic number")
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    data = np.frombuffer(raw, dtype=_DTYPES[dtype_code], offset=header)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: {data.size} values, header says {shape}")
    return data.reshape(shape)
