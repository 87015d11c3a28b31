"""Folders of PNG/JPEG images: listed, hashed, decoded once into a cached uint8 array, split.

Classes: with sub-folders, an image's class is the name of the top-level sub-folder it is in
(classes sorted by name, so labels are 0..K-1 in that order; images deeper down belong to their
top-level sub-folder); without sub-folders the images are unlabelled (label -1). Images both at
the top level and in sub-folders are refused. Hidden files and folders (".name") are skipped.

Identity: the folder's content sha256 hashes every image's relative path, byte size and bytes
(reading the bytes costs one pass over the folder per load, far less than decoding it, and
unlike sizes and modification times it cannot miss an edit that keeps both). The decoded array
is cached under ``<cache>/folders/<key>/`` (``images.npy``, ``labels.npy`` read with
``allow_pickle=False``, ``index.json``), ``key`` = sha256 of the content sha256, the options
and the index format; a changed folder gets a new key and is re-indexed, and a cached array
whose own sha256 does not match its ``index.json`` is re-indexed too.

Shape: without ``image_size`` every image must have the same size (else a one-line error
suggesting ``--image-size``). Channels: as found; a folder mixing grey and colour images is
converted to the majority (a tie goes to RGB, which loses nothing), and ``data info`` says so;
``channels`` (``--image-channels``) forces 1 or 3.

Split (no fixed split in a folder): each image by a hash of its relative path and the fixed
``SPLIT_SEED``: ``derive_seed(SPLIT_SEED, "folder-split", path) % 10`` 0-7 train, 8 val, 9 test,
about 80/10/10. An image keeps its split when other images are added or removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from genzoo.data.fetch import cache_dir
from genzoo.data.imageops import channels_of, fit_image
from genzoo.errors import ConfigError, DataError
from genzoo.seeding import derive_seed

__all__ = ["FolderIndex", "index_folder", "folder_split", "SPLIT_SEED", "SPLIT_RULE"]

SUFFIXES = (".png", ".jpg", ".jpeg")
SPLIT_SEED = 20_260_514  # fixed forever: changing it moves images between splits
SPLIT_RULE = (
    f"seeded by relative path (seed {SPLIT_SEED}): derive_seed(seed, 'folder-split', path) % 10 "
    "= 0-7 train, 8 val, 9 test (about 80/10/10)"
)
INDEX_FORMAT = 1


@dataclass(frozen=True)
class FolderIndex:
    """A decoded folder: ``images`` ``(N, C, H, W)`` uint8, ``labels`` ``(N,)`` int64 (-1:
    unlabelled), in sorted relative-path order."""

    root: Path
    paths: tuple[str, ...]
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    content_sha256: str
    cache: Path
    reused: bool  # True when the cached array was loaded instead of decoding the folder
    note: str  # how the size and channels were decided


def _list(root: Path) -> tuple[list[str], tuple[str, ...], np.ndarray]:
    """Relative paths (sorted, POSIX), class names and labels of the images under ``root``."""
    paths = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if not f.startswith(".") and f.lower().endswith(SUFFIXES):
                paths.append((Path(folder) / f).relative_to(root).as_posix())
    paths.sort()
    if not paths:
        raise DataError(f"{root}: no PNG or JPEG images in this folder or its sub-folders")
    top = [p for p in paths if "/" not in p]
    if top and len(top) < len(paths):
        raise DataError(
            f"{root}: images both at the top level (e.g. {top[0]}) and in sub-folders; with "
            "sub-folders as classes, move every image into one"
        )
    if top:
        return paths, (), np.full(len(paths), -1, dtype=np.int64)
    classes = tuple(sorted({p.split("/", 1)[0] for p in paths}))
    index = {c: i for i, c in enumerate(classes)}
    return paths, classes, np.array([index[p.split("/", 1)[0]] for p in paths], dtype=np.int64)


def _content_sha256(root: Path, paths: list[str]) -> str:
    digest = hashlib.sha256(f"genzoo-folder:{len(paths)};".encode())
    for rel in paths:
        data = (root / rel).read_bytes()
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _open(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None


def _decide(
    root: Path, paths: list[str], image_size: int | None, channels: int | None
) -> tuple[int, int, int, str]:
    """``(C, H, W, note)`` of the indexed images, from the images' headers (not decoded)."""
    found: Counter[int] = Counter()
    sizes: Counter[tuple[int, int]] = Counter()
    for rel in paths:
        with _open(root / rel) as img:
            c = channels_of(img)
            if c == 0:
                raise DataError(f"{root / rel}: mode {img.mode} is not 8 bits per channel")
            found[c] += 1
            sizes[img.size] += 1
    if image_size is None and len(sizes) > 1:
        shown = ", ".join(f"{w}x{h}: {n}" for (w, h), n in sizes.most_common(3))
        raise DataError(
            f"{root}: images of {len(sizes)} sizes ({shown}); pass --image-size S to resize "
            "the shorter side to S and centre-crop"
        )
    kinds = f"{found[1]} grey, {found[3]} colour"
    if channels is not None:
        note = f"channels {channels} as asked ({kinds} images)"
    elif len(found) == 1:
        channels, note = next(iter(found)), f"channels as found ({kinds} images)"
    else:
        channels = 1 if found[1] > found[3] else 3
        note = f"mixed folder ({kinds} images): converted to the majority, {channels} channel(s)"
    w, h = next(iter(sizes)) if image_size is None else (image_size, image_size)
    sized = "as found" if image_size is None else "shorter side resized, centre-cropped"
    return channels, h, w, f"{note}; size {w}x{h} {sized}"


def _decode(root: Path, paths: list[str], image_size: int | None, shape: tuple) -> np.ndarray:
    images = np.empty((len(paths), *shape), dtype=np.uint8)
    for i, rel in enumerate(paths):
        with _open(root / rel) as img:
            try:
                images[i] = fit_image(img, image_size, shape[0])
            except (OSError, ValueError) as exc:
                raise DataError(f"{root / rel}: not a readable image ({exc})") from None
    return images


def _array_sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _read_cache(folder: Path, n: int) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """The cached arrays and header, or None when absent, unreadable or not matching."""
    try:
        meta = json.loads((folder / "index.json").read_text())
        images = np.load(folder / "images.npy", allow_pickle=False)
        labels = np.load(folder / "labels.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None
    ok = (
        meta.get("format") == INDEX_FORMAT
        and images.dtype == np.uint8
        and images.ndim == 4
        and len(images) == len(labels) == n
        and meta.get("images_sha256") == _array_sha256(images)
        and meta.get("labels_sha256") == _array_sha256(labels)
    )
    return (images, labels, meta) if ok else None


def _write_cache(folder: Path, images: np.ndarray, labels: np.ndarray, meta: dict) -> None:
    meta = {**meta, "images_sha256": _array_sha256(images), "labels_sha256": _array_sha256(labels)}
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        np.save(tmp / "images.npy", images, allow_pickle=False)
        np.save(tmp / "labels.npy", labels, allow_pickle=False)
        (tmp / "index.json").write_text(json.dumps(meta, indent=1))
        if folder.exists():
            shutil.rmtree(folder)  # a stale or damaged index under the same key
        os.replace(tmp, folder)
    except OSError:
        pass  # a read-only or raced cache only costs decoding again next time
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def index_folder(root: Path, image_size: int | None, channels: int | None) -> FolderIndex:
    """Decode the images under ``root`` once (cached by content, see the module docstring)."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        from genzoo.data.sources import DATASETS

        names = ", ".join(DATASETS)
        raise ConfigError(f"{root}: no such folder of images (registered names: {names})")
    paths, classes, labels = _list(root)
    content = _content_sha256(root, paths)
    options = {"format": INDEX_FORMAT, "content": content, "size": image_size, "ch": channels}
    key = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:32]
    folder = cache_dir() / "folders" / key
    cached = _read_cache(folder, len(paths))
    if cached is not None:
        images, labels, meta = cached
        return FolderIndex(
            root, tuple(paths), images, labels, classes, content, folder, True, meta["note"]
        )
    c, h, w, note = _decide(root, paths, image_size, channels)
    images = _decode(root, paths, image_size, (c, h, w))
    meta = {
        "format": INDEX_FORMAT,
        "root": str(root),
        "content_sha256": content,
        "image_size": image_size,
        "channels": channels,
        "note": note,
        "classes": list(classes),
        "paths": paths,
    }
    _write_cache(folder, images, labels, meta)
    return FolderIndex(root, tuple(paths), images, labels, classes, content, folder, False, note)


def folder_split(paths: tuple[str, ...] | list[str]) -> dict[str, np.ndarray]:
    """Indices of each split (``train``, ``val``, ``test``), in path order (see SPLIT_RULE)."""
    bucket = np.array([derive_seed(SPLIT_SEED, "folder-split", p) % 10 for p in paths])
    return {
        "train": np.flatnonzero(bucket < 8),
        "val": np.flatnonzero(bucket == 8),
        "test": np.flatnonzero(bucket == 9),
    }
