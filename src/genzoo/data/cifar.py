"""Reader for the official CIFAR-10 binary archive ``cifar-10-binary.tar.gz`` (no pickle).

Layout (Krizhevsky 2009, "binary version"): ``cifar-10-batches-bin/data_batch_1.bin`` ..
``data_batch_5.bin`` (10,000 records each, the 50,000 training images) and ``test_batch.bin``
(10,000), plus ``batches.meta.txt`` with the ten class names, one a line. A record is one label
byte (0-9) then 3,072 pixel bytes: the red, green and blue 32x32 planes, each row-major, so a
record's pixels reshape straight to ``(3, 32, 32)``. The reader takes any whole number of
records per batch (the tests write small archives); the archive's sha256 fixes the real counts.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

import numpy as np

from genzoo.errors import DataError

__all__ = ["read_cifar10_binary", "BATCH_DIR", "TRAIN_BATCHES", "TEST_BATCH", "RECORD_BYTES"]

BATCH_DIR = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
META = "batches.meta.txt"
SHAPE = (3, 32, 32)
RECORD_BYTES = 1 + 3 * 32 * 32


def _members(path: Path) -> dict[str, bytes]:
    """The wanted regular files of the archive by base name, read in one pass, never extracted."""
    wanted = {f"{BATCH_DIR}/{n}" for n in (*TRAIN_BATCHES, TEST_BATCH, META)}
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    f = tar.extractfile(member)
                    if f is not None:
                        out[member.name.rsplit("/", 1)[1]] = f.read()
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise DataError(f"{path}: not a readable tar.gz archive ({exc})") from None
    return out


def _records(path: Path, name: str, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 3, 32, 32) uint8, labels (N,) uint8)`` of one batch file."""
    if not raw or len(raw) % RECORD_BYTES:
        raise DataError(
            f"{path}: {name} has {len(raw)} bytes, not a whole number of {RECORD_BYTES}-byte "
            "records"
        )
    rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = rec[:, 0]
    if int(labels.max()) > 9:
        raise DataError(f"{path}: {name} has a label {int(labels.max())}, expected 0-9")
    return rec[:, 1:].reshape(-1, *SHAPE), labels


def read_cifar10_binary(
    path: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...] | None]:
    """Read the archive: ``(train_x (50000, 3, 32, 32), train_y (50000,), test_x (10000, 3,
    32, 32), test_y (10000,), class names from batches.meta.txt or None)``, all uint8, in file
    order (batches 1..5 concatenated)."""
    members = _members(path)
    missing = [n for n in (*TRAIN_BATCHES, TEST_BATCH) if n not in members]
    if missing:
        raise DataError(f"{path}: {BATCH_DIR}/{missing[0]} missing from the archive")
    train = [_records(path, n, members[n]) for n in TRAIN_BATCHES]
    test_x, test_y = _records(path, TEST_BATCH, members[TEST_BATCH])
    train_x = np.concatenate([x for x, _ in train])
    train_y = np.concatenate([y for _, y in train])
    classes = None
    if META in members:
        names = [n.strip() for n in members[META].decode("ascii", "replace").splitlines()]
        names = [n for n in names if n]
        classes = tuple(names) if len(names) == 10 else None
    return train_x, train_y, test_x, test_y, classes
