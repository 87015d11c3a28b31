"""Find, verify and (as a last resort) download the files of a data set.

Search order for each file, first hit wins:

1. ``data_dir`` argument or ``$GENZOO_DATA_DIR``: ``<dir>/<name>/<file>``
2. the user cache ``$GENZOO_CACHE`` (default ``~/.cache/genzoo``): ``<cache>/<name>/<file>``
3. ``/usr/share/datasets/<name>/<file>`` (Debian's data set packages)
4. a download with pooch from the data set's mirrors into the user cache, verified by sha256
   (skipped when ``$GENZOO_OFFLINE`` is set).

A file that is found but has the wrong size or sha256 is refused with a ``ChecksumError``; the
search does not fall through to another copy, so bad data is never trained on and never
silently replaced. Verified files are remembered in ``<cache>/verified.json`` by path, size and
modification time, so each file is hashed once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from genzoo.data.sources import ROLES, DatasetSpec, FileSpec, get_spec
from genzoo.errors import ChecksumError, DataError

__all__ = ["FoundFile", "locate", "search_dirs", "cache_dir", "sha256_of", "verify_file"]

SYSTEM_DIR = Path("/usr/share/datasets")


@dataclass(frozen=True)
class FoundFile:
    """Where a verified file was found: ``source`` is one of data-dir, cache, system, download."""

    role: str
    path: Path
    source: str
    remembered: bool  # True when the checksum came from the verification record


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


def _remember(path: Path, spec: FileSpec) -> None:
    stat = path.stat()
    record = _load_record()
    record[str(path.resolve())] = {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": spec.sha256,
    }
    try:
        target = _record_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


def _is_remembered(path: Path, spec: FileSpec) -> bool:
    entry = _load_record().get(str(path.resolve()))
    if not entry:
        return False
    stat = path.stat()
    return (
        entry.get("sha256") == spec.sha256
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
    )


def verify_file(path: Path, spec: FileSpec) -> bool:
    """Check size and sha256 of ``path``; raise ``ChecksumError`` naming both on a mismatch.

    Returns True when the answer came from the verification record (no hashing needed).
    """
    if _is_remembered(path, spec):
        return True
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        actual = sha256_of(path)
        raise ChecksumError(
            f"{path}: refusing a wrong or truncated file: {size} bytes, expected {spec.size}; "
            f"sha256 {actual}, expected {spec.sha256}. Replace it with the original file."
        )
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ChecksumError(
            f"{path}: refusing a corrupted or wrong file: sha256 {actual}, expected "
            f"{spec.sha256}. Replace it with the original file."
        )
    _remember(path, spec)
    return False


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
        f"({'; '.join(errors)}). Put the four original files in <dir>/{spec.name}/ and pass "
        f"--data-dir <dir> or set GENZOO_DATA_DIR=<dir>."
    )


def locate(
    name: str, data_dir: str | os.PathLike | None = None, download: bool = True
) -> dict[str, FoundFile]:
    """Find and verify the four files of data set ``name``; returns ``role -> FoundFile``."""
    spec = get_spec(name)
    found: dict[str, FoundFile] = {}
    dirs = search_dirs(name, data_dir)
    for role in ROLES:
        file = spec.files[role]
        for source, folder in dirs:
            path = folder / file.name
            if path.is_file():
                remembered = verify_file(path, file)
                found[role] = FoundFile(role, path, source, remembered)
                break
        else:
            if not download:
                looked = ", ".join(str(d / file.name) for _, d in dirs)
                raise DataError(f"{name}: {file.name} not found (looked in {looked})")
            path = _download(spec, file, dirs)
            verify_file(path, file)
            found[role] = FoundFile(role, path, "download", False)
    return found
