"""Data layer on real MNIST: splits, checksums, refusals, offline behaviour, binarisation."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import torch

from genzoo.data import EpochBatches, binarize, load_dataset, locate, to_view
from genzoo.data.fetch import search_dirs
from genzoo.data.sources import DATASETS
from genzoo.errors import ChecksumError, ConfigError, DataError
from genzoo.seeding import make_generator
from tests.conftest import run_cli

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_splits_shapes_dtypes_and_label_counts(mnist):
    assert {s: mnist.size(s) for s in ("train", "val", "test")} == {
        "train": 50000,
        "val": 10000,
        "test": 10000,
    }
    for split in ("train", "val", "test"):
        assert mnist.images[split].shape[1:] == (1, 28, 28)
        assert mnist.images[split].dtype == torch.uint8
        assert mnist.labels[split].dtype == torch.int64
    train_and_val = torch.cat([mnist.labels["train"], mnist.labels["val"]])
    assert train_and_val.bincount().tolist() == TRAIN_COUNTS
    assert mnist.labels["test"].bincount().tolist() == TEST_COUNTS
    assert int(mnist.images["train"].max()) == 255 and int(mnist.images["train"].min()) == 0


def test_splits_are_deterministic_and_in_file_order(mnist, data_dir):
    from genzoo.data.datasets import _load_cached

    _load_cached.cache_clear()
    again = load_dataset("mnist", data_dir)
    for split in ("train", "val", "test"):
        assert torch.equal(again.images[split], mnist.images[split])
    # the first training label of MNIST is a 5, the first test label a 7
    assert mnist.labels["train"][0] == 5 and mnist.labels["test"][0] == 7


def test_every_file_verified_by_sha256(data_dir):
    found = locate("mnist", data_dir)
    assert set(found) == {"train_images", "train_labels", "test_images", "test_labels"}
    assert all(f.source == "data-dir" for f in found.values())


def _copy_mnist(src, dst, truncate: str | None = None, corrupt: str | None = None):
    (dst / "mnist").mkdir(parents=True)
    for f in (src / "mnist").glob("*.gz"):
        shutil.copy(f, dst / "mnist" / f.name)
    if truncate:
        p = dst / "mnist" / truncate
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    if corrupt:
        p = dst / "mnist" / corrupt
        raw = bytearray(p.read_bytes())
        raw[100] ^= 0xFF
        p.write_bytes(bytes(raw))


def test_truncated_file_refused_with_both_checksums(data_dir, tmp_path):
    _copy_mnist(data_dir, tmp_path, truncate="train-images-idx3-ubyte.gz")
    with pytest.raises(ChecksumError) as exc:
        locate("mnist", tmp_path)
    msg = str(exc.value)
    spec = DATASETS["mnist"].files["train_images"]
    assert "train-images-idx3-ubyte.gz" in msg and spec.sha256 in msg and "expected" in msg
    # the bad file is still there, untouched
    assert (tmp_path / "mnist" / spec.name).stat().st_size == spec.size // 2


def test_corrupted_file_same_size_refused(data_dir, tmp_path):
    _copy_mnist(data_dir, tmp_path, corrupt="t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        locate("mnist", tmp_path)


def test_cli_truncated_file_one_line_error_no_traceback(data_dir, tmp_path):
    _copy_mnist(data_dir, tmp_path, truncate="train-images-idx3-ubyte.gz")
    res = run_cli("data", "info", "mnist", "--data-dir", str(tmp_path))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    err = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "train-images-idx3-ubyte.gz" in err[0] and "sha256" in err[0]


def test_cli_data_info(data_dir):
    res = run_cli("data", "info", "mnist", "--data-dir", str(data_dir))
    assert res.returncode == 0, res.stderr
    assert "50000" in res.stdout and "10000" in res.stdout
    assert res.stdout.count("verified") == 4


def test_download_fails_offline_with_clear_message(tmp_path, monkeypatch):
    from genzoo.data import sources

    spec = sources.DATASETS["kmnist"]
    # a mirror that refuses connections at once: the same path as having no network
    monkeypatch.setitem(
        sources.DATASETS,
        "kmnist",
        sources.DatasetSpec(spec.name, spec.files, ("http://127.0.0.1:9/",), spec.classes),
    )
    monkeypatch.delenv("GENZOO_OFFLINE", raising=False)
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("genzoo.data.fetch.SYSTEM_DIR", tmp_path / "system")
    with pytest.raises(DataError) as exc:
        locate("kmnist", tmp_path / "nothing")
    msg = str(exc.value)
    assert "download failed" in msg and "GENZOO_DATA_DIR" in msg and "--data-dir" in msg
    assert str(tmp_path / "nothing" / "kmnist") in msg


def test_cli_offline_no_local_copy_is_one_line(tmp_path):
    # kmnist: no system package ships it (Debian's dataset-fashion-mnist would be found)
    res = run_cli(
        "data",
        "info",
        "kmnist",
        "--data-dir",
        str(tmp_path),
        env={"GENZOO_CACHE": str(tmp_path / "c"), "GENZOO_OFFLINE": "1"},
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "not found" in res.stderr


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "c"))
    dirs = search_dirs("mnist", tmp_path / "d")
    assert [s for s, _ in dirs] == ["data-dir", "cache", "system"]
    assert dirs[0][1] == tmp_path / "d" / "mnist"


def test_unknown_dataset_is_config_error():
    with pytest.raises(ConfigError, match="mnist"):
        load_dataset("cifar")


ALL_PIXELS = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)  # every 8-bit value


def test_views_map_each_pixel_value(mnist):
    """The documented mappings (``genzoo.data.views``), value by value for all 256 pixels."""
    v = ALL_PIXELS.double()
    assert torch.equal(to_view(ALL_PIXELS, "uint8"), ALL_PIXELS)
    unit = to_view(ALL_PIXELS, "unit")
    assert unit.dtype == torch.float32 and unit.shape == ALL_PIXELS.shape
    # x / 255 correctly rounded to float32 (float64 then float32 rounds the same for a quotient)
    assert torch.equal(unit, (v / 255).float())
    signed = to_view(ALL_PIXELS, "signed")
    assert signed.dtype == torch.float32 and signed.shape == ALL_PIXELS.shape
    assert signed.flatten()[0] == -1 and signed.flatten()[255] == 1  # exact ends
    assert signed.flatten()[51] == pytest.approx(-0.6, abs=2**-24)  # 51 / 127.5 - 1
    # x / 127.5 - 1: two float32 roundings, so within one float32 ulp of 1 (2^-23) of the value
    torch.testing.assert_close(signed.double(), v / 127.5 - 1, rtol=0, atol=2**-23)
    assert torch.all(signed.flatten().diff() > 0)  # one level per pixel value, none merged
    # on real images too, and the two float views agree: signed = 2 * unit - 1
    x = mnist.images["val"][:100]
    torch.testing.assert_close(
        to_view(x, "signed"), 2 * to_view(x, "unit") - 1, rtol=0, atol=2**-23
    )


def test_binary_view_is_a_reproducible_bernoulli_draw():
    """binary: {0, 1} floats, 0 -> 0 and 255 -> 1 always, the same draw from the same
    generator state, and P(1) = pixel / 255 for every gray level (5 standard errors)."""
    n = 4000
    x = ALL_PIXELS.expand(n, 1, 16, 16).contiguous()
    b = to_view(x, "binary", make_generator(0, "values")).clone()
    assert b.dtype == torch.float32 and b.shape == x.shape
    assert set(b.unique().tolist()) == {0.0, 1.0}
    flat = b.reshape(n, 256)
    assert flat[:, 0].sum() == 0 and flat[:, 255].min() == 1
    assert torch.equal(to_view(x, "binary", make_generator(0, "values")), b)  # reproducible
    assert not torch.equal(to_view(x, "binary", make_generator(1, "values")), b)
    p = torch.arange(256, dtype=torch.float64) / 255
    stderr = (p * (1 - p) / n).sqrt()
    error = flat.double().mean(0) - p
    assert torch.all(error.abs() <= 5 * stderr + 1e-12)
    # pooled over levels: a bias of one level in 255 (P = (x + 1) / 255) is ~10 errors off
    assert error.mean().abs() <= 5 * stderr.square().sum().sqrt() / 256
    with pytest.raises(ValueError, match="generator"):
        to_view(x, "binary")


def test_fixed_binarisation_is_a_draw_of_the_images(mnist):
    """The fixed binary view (validation/test) is a Bernoulli draw of those very images, the
    same on every call."""
    x = mnist.images["val"][:2000]
    fixed = mnist.fixed_binary("val")[:2000]
    assert torch.equal(fixed, mnist.view("val", "binary")[:2000])
    assert set(fixed.unique().tolist()) == {0.0, 1.0}
    assert torch.all(fixed[x == 0] == 0) and torch.all(fixed[x == 255] == 1)
    gray = (x > 0) & (x < 255)
    expected = x[gray].double() / 255
    n = expected.numel()
    stderr = (expected * (1 - expected)).sum().sqrt() / n
    assert abs(fixed[gray].double().mean() - expected.mean()) <= 5 * stderr


def test_binarisation_has_the_right_mean():
    x = torch.tensor([0, 1, 64, 128, 254, 255], dtype=torch.uint8).repeat(200_000, 1)
    b = binarize(x, make_generator(0, "mean"))
    expected = x[0].double() / 255
    assert torch.allclose(b.double().mean(0), expected, atol=3e-3)
    assert b[:, 0].sum() == 0 and b[:, -1].min() == 1


def test_fixed_binarisation_identical_across_processes(mnist, data_dir):
    code = (
        "import sys, hashlib; from genzoo.data import load_dataset; "
        f"d = load_dataset('mnist', {str(data_dir)!r}); "
        "print(hashlib.sha256(d.fixed_binary('val').numpy().tobytes()).hexdigest())"
    )
    import hashlib
    import os

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    outs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        for _ in range(2)
    ]
    here = hashlib.sha256(mnist.fixed_binary("val").numpy().tobytes()).hexdigest()
    assert outs[0].stdout.strip() == outs[1].stdout.strip() == here


def test_dynamic_binarisation_fresh_each_epoch_and_replayable(mnist):
    x, y = mnist.images["train"][:2000], mnist.labels["train"][:2000]
    e1 = EpochBatches(x, y, "binary", 100, seed=0, epoch=1, shuffle=False)._x.clone()
    e2 = EpochBatches(x, y, "binary", 100, seed=0, epoch=2, shuffle=False)._x.clone()
    e1_again = EpochBatches(x, y, "binary", 100, seed=0, epoch=1, shuffle=False)._x
    assert not torch.equal(e1, e2) and torch.equal(e1, e1_again)


def test_batches_cover_the_epoch_and_shard_like_one_process(mnist):
    x, y = mnist.images["train"][:1000], mnist.labels["train"][:1000]
    one = EpochBatches(x, y, "uint8", 64, seed=3, epoch=1)
    seen = torch.cat([one.indices(i) for i in range(len(one))])
    assert sorted(seen.tolist()) == list(range(1000))  # the last, partial batch is kept
    two = [EpochBatches(x, y, "uint8", 64, seed=3, epoch=1, rank=r, world=2) for r in range(2)]
    for i in range(len(one)):
        assert torch.equal(torch.cat([two[0].indices(i), two[1].indices(i)]), one.indices(i))


def test_shape_and_content_hash_name_the_data(mnist):
    from genzoo.data import ImageData

    assert mnist.shape == (1, 28, 28)
    small = mnist.subset({"train": 50, "val": 20, "test": 20})
    same = mnist.subset({"train": 50, "val": 20, "test": 20})
    assert small.content_hash() == same.content_hash() != mnist.content_hash()
    images = {s: x.clone() for s, x in small.images.items()}
    images["test"][3, 0, 5, 5] ^= 1  # one bit of one pixel
    changed = ImageData(small.name, images, small.labels)
    assert changed.content_hash() != small.content_hash()
    labels = {s: y.clone() for s, y in small.labels.items()}
    labels["val"][0] = (labels["val"][0] + 1) % 10
    assert ImageData(small.name, small.images, labels).content_hash() != small.content_hash()
