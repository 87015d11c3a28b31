"""Find, verify and (as a last resort) download the files of a data set.

Search order for each file, first hit wins:

1. ``data_dir`` argument or ``$GENZOO_DATA_DIR``: ``<dir>/<name>/<file>``
2. the user cache ``$GENZOO_CACHE`` (default ``~/.cache/genzoo``): ``<cache>/<name>/<file>``
3. ``/usr/share/datasets/<name>/<file>`` (Debian's data set packages)
4. a download with pooch from the data set's mirrors into the user cache, verified by sha256
   (skipped when ``$GENZOO_OFFLINE`` is set).

A file is accepted when its sha256 is the published one, or (where the spec records it) when
its decompressed content has the published content sha256: a re-compressed copy of the same
data loads. Anything else is refused with a one-line ``ChecksumError`` that gives the expected
and the found checksums; a truncated or damaged gzip is refused too. The search does not fall
through to another copy, so bad data is never trained on and never silently replaced.
Verified files are remembered in ``<cache>/verified.json`` by path, size, modification time and
the checksums they were checked against, so each file is hashed once.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from genzoo.data.sources import DatasetSpec, FileSpec, get_spec
from genzoo.errors import ChecksumError, DataError

__all__ = [
    "FoundFile",
    "locate",
    "search_dirs",
    "cache_dir",
    "sha256_of",
    "content_sha256_of",
    "verify_file",
]

SYSTEM_DIR = Path("/usr/share/datasets")


@dataclass(frozen=True)
class FoundFile:
    """Where a verified file was found: ``source`` is one of data-dir, cache, system, download;
    ``by`` how it verified: "sha256" (the file) or "content sha256" (its decompressed content)."""

    role: str
    path: Path
    source: str
    remembered: bool  # True when the checksum came from the verification record
    by: str = "sha256"


def cache_dir() -> Path:
    """The user cache: ``$GENZOO_CACHE`` or ``~/.cache/genzoo``."""
    env = os.environ.get("GENZOO_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "genzoo"


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The folders searched for data set ``name``, in order, as ``(source, folder)`` pairs."""
    dirs: list[tuple[str, Path]] = []
    explicit = data_dir if data_dir is not None else os.environ.get("GENZOO_DATA_DIR")
    if explicit:
        dirs.append(("data-dir", Path(explicit).expanduser() / name))
    dirs.append(("cache", cache_dir() / name))
    dirs.append(("system", SYSTEM_DIR / name))
    return dirs


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _record_path() -> Path:
    return cache_dir() / "verified.json"


def _load_record() -> dict:
    try:
        return json.loads(_record_path().read_text())
    except (OSError, ValueError):
        return {}


def _remember(path: Path, spec: FileSpec, by: str) -> None:
    stat = path.stat()
    record = _load_record()
    record[str(path.resolve())] = {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": spec.sha256,
        "content_sha256": spec.content_sha256,
        "by": by,
    }
    try:
        target = _record_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


def _remembered_by(path: Path, spec: FileSpec) -> str | None:
    """How ``path`` verified against ``spec`` before, if it is unchanged since; else None."""
    entry = _load_record().get(str(path.resolve()))
    if not entry:
        return None
    stat = path.stat()
    same = (
        entry.get("sha256") == spec.sha256
        and entry.get("content_sha256") == spec.content_sha256
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
    )
    return str(entry.get("by", "sha256")) if same else None


def content_sha256_of(path: Path) -> str:
    """Hex sha256 of a gzip file's decompressed content; raises ``OSError``, ``EOFError`` or
    ``zlib.error`` for a truncated or damaged file."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _refuse(path: Path, spec: FileSpec, actual: str) -> None:
    """Raise the one-line ``ChecksumError`` for a file whose sha256 is not the published one."""
    size = path.stat().st_size
    if spec.content_sha256 is None:
        sized = f"{size} bytes" + (f", expected {spec.size}" if spec.size is not None else "")
        raise ChecksumError(
            f"{path}: refusing a wrong or truncated file ({sized}): sha256 {actual}, expected "
            f"{spec.sha256}. Replace it with the original file."
        )
    try:
        content = content_sha256_of(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise ChecksumError(
            f"{path}: refusing a truncated or damaged gzip file ({size} bytes; {exc}): sha256 "
            f"{actual}, expected {spec.sha256} (or content sha256 {spec.content_sha256}). "
            "Replace it with the original file."
        ) from None
    if content != spec.content_sha256:
        raise ChecksumError(
            f"{path}: refusing a file whose content differs: content sha256 {content}, expected "
            f"{spec.content_sha256} (file sha256 {actual}, published {spec.sha256}). "
            "Replace it with the original file."
        )


def verify_file(path: Path, spec: FileSpec) -> tuple[bool, str]:
    """Check ``path`` against ``spec``: its sha256, else the sha256 of its decompressed
    content; raise a one-line ``ChecksumError`` naming both checksums when neither matches.

    Returns ``(remembered, by)``: whether the answer came from the verification record (no
    hashing needed), and how the file verified ("sha256" or "content sha256").
    """
    by = _remembered_by(path, spec)
    if by is not None:
        return True, by
    actual = sha256_of(path)
    by = "sha256"
    if actual != spec.sha256:
        _refuse(path, spec, actual)  # returns only when the content has the published sha256
        by = "content sha256"
    _remember(path, spec, by)
    return False, by


def _download(spec: DatasetSpec, file: FileSpec, dirs: list[tuple[str, Path]]) -> Path:
    target_dir = cache_dir() / spec.name
    errors = []
    if os.environ.get("GENZOO_OFFLINE"):
        errors.append("downloads disabled by GENZOO_OFFLINE")
    else:
        import pooch  # imported here: only needed when nothing local exists

        logger = pooch.get_logger()
        level = logger.level
        logger.setLevel("WARNING")  # one clear message of our own instead of pooch's chatter
        try:
            for mirror in spec.mirrors:
                try:
                    path = pooch.retrieve(
                        url=mirror + file.name,
                        known_hash=f"sha256:{file.sha256}",
                        fname=file.name,
                        path=target_dir,
                        progressbar=False,
                    )
                    return Path(path)
                except Exception as exc:  # noqa: BLE001 - any failure: try the next mirror
                    errors.append(f"{mirror}: {type(exc).__name__}")
        finally:
            logger.setLevel(level)
    looked = ", ".join(str(d / file.name) for _, d in dirs)
    raise DataError(
        f"{spec.name}: {file.name} not found (looked in {looked}) and the download failed "
        f"({'; '.join(errors)}). Put {_file_names(spec)} in "
        f"<dir>/{spec.name}/ and pass "
        f"--data-dir <dir> or set GENZOO_DATA_DIR=<dir>."
    )


def _file_names(spec: DatasetSpec) -> str:
    """``NAME (from URL)`` for a one-file data set, else ``the N original files (from URL)``."""
    names = [f.name for f in spec.files.values()]
    if len(names) == 1:
        return f"{names[0]} (from {spec.mirrors[0]}{names[0]})"
    return f"the {len(names)} original files (from {spec.mirrors[0]})"


def locate(
    name: str, data_dir: str | os.PathLike | None = None, download: bool = True
) -> dict[str, FoundFile]:
    """Find and verify the files of data set ``name``; returns ``role -> FoundFile``."""
    spec = get_spec(name)
    found: dict[str, FoundFile] = {}
    dirs = search_dirs(name, data_dir)
    for role, file in spec.files.items():
        for source, folder in dirs:
            path = folder / file.name
            if path.is_file():
                found[role] = FoundFile(role, path, source, *verify_file(path, file))
                break
        else:
            if not download:
                looked = ", ".join(str(d / file.name) for _, d in dirs)
                raise DataError(
                    f"{name}: {file.name} not found (looked in {looked}); put it in "
                    f"<dir>/{name}/ and pass --data-dir <dir> or set GENZOO_DATA_DIR=<dir>"
                )
            path = _download(spec, file, dirs)
            found[role] = FoundFile(role, path, "download", False, verify_file(path, file)[1])
    return found
