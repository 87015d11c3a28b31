"""Shared fixtures: real MNIST from GENZOO_DATA_DIR (CI: ../shared/data), an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"


def _data_dir() -> Path:
    return Path(os.environ.get("GENZOO_DATA_DIR", DEFAULT_DATA))


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory):
    """Point genzoo at the offline data mirror and a fresh cache; no downloads in tests."""
    saved = {k: os.environ.get(k) for k in ("GENZOO_DATA_DIR", "GENZOO_CACHE", "GENZOO_OFFLINE")}
    os.environ["GENZOO_DATA_DIR"] = str(_data_dir())
    os.environ["GENZOO_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["GENZOO_OFFLINE"] = "1"
    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if not (d / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST not found under {d}; set GENZOO_DATA_DIR")
    return d


@pytest.fixture(scope="session")
def mnist(data_dir: Path):
    from genzoo.data import load_dataset

    return load_dataset("mnist", data_dir)


def run_cli(*args: str, env: dict | None = None, timeout: float = 300):
    """Run ``python -m genzoo ARGS`` in a subprocess; returns the CompletedProcess."""
    import subprocess
    import sys

    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    full_env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "genzoo", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
