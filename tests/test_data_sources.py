"""Every kind of source: CIFAR-10's binary archive, re-compressed IDX files verified by content,
folders of images (cached index, seeded split, resizing, channels), Debian's Fashion-MNIST."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.config import DataConfig
from genzoo.data import load_dataset, locate
from genzoo.data.datasets import _load_cached
from genzoo.data.fetch import sha256_of, verify_file
from genzoo.data.folder import folder_split, index_folder
from genzoo.data.sources import DATASETS, FileSpec
from genzoo.errors import ChecksumError, ConfigError, DataError
from tests.conftest import run_cli

# --- CIFAR-10 ---------------------------------------------------------------------------------

# planted pixels: (channel, row, column) -> value; row and column differ so a transposed or
# channel-last reader would read other bytes
PLANTED = {(0, 0, 1): 200, (1, 5, 7): 123, (2, 31, 0): 77}


def _record(label: int, k: int) -> bytes:
    pixels = np.zeros((3, 32, 32), dtype=np.uint8)
    for (c, r, col), v in PLANTED.items():
        pixels[c, r, col] = v
    pixels[0, 31, 31] = k  # the record's number, to check the order
    return bytes([label]) + pixels.tobytes()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_cifar(path: Path, per_batch: int = 4, n_test: int = 3) -> Path:
    """A small archive in the official layout: 5 training batches and a test batch; record k
    (counting over all batches) has label k % 10 and pixel (0, 31, 31) = k."""
    path.parent.mkdir(parents=True, exist_ok=True)
    k = 0
    with tarfile.open(path, "w:gz") as tar:
        for b in range(1, 6):
            recs = b"".join(_record((k + i) % 10, k + i) for i in range(per_batch))
            _add(tar, f"data_batch_{b}.bin", recs)
            k += per_batch
        _add(tar, "test_batch.bin", b"".join(_record((k + i) % 10, k + i) for i in range(n_test)))
        names = "\n".join(DATASETS["cifar10"].classes) + "\n\n"  # as the original: a blank line
        _add(tar, "batches.meta.txt", names.encode())
    return path


@pytest.fixture
def tiny_cifar(tmp_path, monkeypatch):
    """A tiny archive under tmp_path/cifar10, and the spec overridden to trust it: the explicit
    override mechanism is replacing the registered spec (checksum and split size)."""
    archive = write_cifar(tmp_path / "cifar10" / "cifar-10-binary.tar.gz")
    spec = DATASETS["cifar10"]
    trusted = dataclasses.replace(
        spec, files={"archive": FileSpec(archive.name, sha256_of(archive), None)}, n_train=16
    )
    monkeypatch.setitem(DATASETS, "cifar10", trusted)
    _load_cached.cache_clear()
    yield tmp_path
    _load_cached.cache_clear()


def test_cifar_archive_loads_with_shapes_labels_and_pixel_order(tiny_cifar):
    data = load_dataset("cifar10", tiny_cifar)
    assert data.shape == (3, 32, 32)
    assert {s: data.size(s) for s in ("train", "val", "test")} == {"train": 16, "val": 4, "test": 3}
    assert data.classes == DATASETS["cifar10"].classes
    # batches in order 1..5: record k is number k, label k % 10; val = the last training ones
    order = torch.cat([data.images[s][:, 0, 31, 31] for s in ("train", "val", "test")])
    assert order.tolist() == list(range(23))
    labels = torch.cat([data.labels[s] for s in ("train", "val", "test")])
    assert labels.tolist() == [k % 10 for k in range(23)]
    for (c, r, col), v in PLANTED.items():
        assert torch.all(data.images["test"][:, c, r, col] == v)
    assert int(data.images["train"][0].sum()) == sum(PLANTED.values())  # nothing else is set
    assert "45,000" not in data.split_rule and "first 16" in data.split_rule


def test_cifar_archive_with_another_checksum_is_refused(tmp_path):
    archive = write_cifar(tmp_path / "cifar10" / "cifar-10-binary.tar.gz")
    with pytest.raises(ChecksumError) as exc:
        locate("cifar10", tmp_path)
    msg = str(exc.value)
    assert DATASETS["cifar10"].files["archive"].sha256 in msg and sha256_of(archive) in msg
    assert "\n" not in msg


def test_cli_cifar10_missing_says_where_to_put_it(tmp_path):
    res = run_cli(
        "data",
        "info",
        "cifar10",
        "--data-dir",
        str(tmp_path),
        env={"GENZOO_CACHE": str(tmp_path / "c"), "GENZOO_OFFLINE": "1"},
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "cifar-10-binary.tar.gz" in err[0]
    assert str(tmp_path / "cifar10") in err[0] and "<dir>/cifar10/" in err[0]


# --- IDX files verified by content ------------------------------------------------------------


def _recompress(src: Path, dst: Path, content: bytes | None = None) -> bytes:
    """Write ``src``'s content (or ``content``) to ``dst`` as gzip level 1, no file name."""
    raw = content if content is not None else gzip.decompress(src.read_bytes())
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(gzip.compress(raw, compresslevel=1, mtime=0))
    return raw


def test_recompressed_idx_files_load_bit_identical(data_dir, tmp_path, mnist):
    for f in DATASETS["mnist"].files.values():
        _recompress(data_dir / "mnist" / f.name, tmp_path / "mnist" / f.name)
        assert sha256_of(tmp_path / "mnist" / f.name) != f.sha256
    found = locate("mnist", tmp_path)
    assert all(f.by == "content sha256" and not f.remembered for f in found.values())
    assert all(f.remembered for f in locate("mnist", tmp_path).values())  # verified.json
    again = load_dataset("mnist", tmp_path)
    for split in ("train", "val", "test"):
        assert torch.equal(again.images[split], mnist.images[split])
        assert torch.equal(again.labels[split], mnist.labels[split])


def test_recompressed_file_truncated_or_altered_is_refused(data_dir, tmp_path):
    spec = DATASETS["mnist"].files["test_labels"]
    path = tmp_path / spec.name
    raw = _recompress(data_dir / "mnist" / spec.name, path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ChecksumError) as exc:
        verify_file(path, spec)
    msg = str(exc.value)
    assert "truncated" in msg and spec.sha256 in msg and sha256_of(path) in msg
    assert spec.content_sha256 in msg and "\n" not in msg
    altered = bytearray(raw)
    altered[-1] = (altered[-1] + 1) % 10  # one label of 10,000
    _recompress(path, path, bytes(altered))
    with pytest.raises(ChecksumError) as exc:
        verify_file(path, spec)
    msg = str(exc.value)
    found = hashlib.sha256(bytes(altered)).hexdigest()
    assert "content differs" in msg and spec.content_sha256 in msg and found in msg


def test_a_remembered_file_is_checked_again_once_changed(data_dir, tmp_path):
    spec = DATASETS["mnist"].files["test_labels"]
    path = tmp_path / spec.name
    raw = _recompress(data_dir / "mnist" / spec.name, path)
    assert verify_file(path, spec) == (False, "content sha256")
    assert verify_file(path, spec) == (True, "content sha256")
    _recompress(path, path, raw[:-1] + bytes([(raw[-1] + 1) % 10]))
    with pytest.raises(ChecksumError):
        verify_file(path, spec)


# --- folders of images ------------------------------------------------------------------------

COLOURS = {"cat": (200, 40, 10), "dog": (10, 180, 60), "owl": (30, 60, 220)}


def write_folder(root: Path, n: int = 20, size: tuple[int, int] = (32, 32)) -> Path:
    """``n`` RGB PNGs per class in sub-folders: the class colour, pixel (0, 0) green = index."""
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = Image.new("RGB", size, colour)
            img.putpixel((0, 0), (colour[0], i, colour[2]))
            img.save(root / name / f"{i:03d}.png")
    return root


def test_folder_loads_with_shape_labels_and_a_seeded_split(tmp_path):
    root = write_folder(tmp_path / "pics")
    data = load_dataset(str(root))
    assert data.shape == (3, 32, 32) and data.classes == ("cat", "dog", "owl")
    sizes = {s: data.size(s) for s in ("train", "val", "test")}
    assert sum(sizes.values()) == 60 and min(sizes.values()) >= 1
    for split in ("train", "val", "test"):
        x, y = data.images[split], data.labels[split]
        expected = torch.tensor(
            [COLOURS[data.classes[k]][2] for k in y.tolist()], dtype=torch.uint8
        )
        assert torch.equal(x[:, 2, 5, 5], expected)  # every image's label is its folder's
    assert "seed" in data.split_rule and "80" in data.split_rule
    again = load_dataset(str(root))
    for split in ("train", "val", "test"):
        assert torch.equal(again.images[split], data.images[split])
        assert torch.equal(again.labels[split], data.labels[split])


def test_split_is_stable_when_images_are_added():
    paths = [f"c{i % 3}/{i:04d}.png" for i in range(1000)]
    before = folder_split(paths)
    after = folder_split([*paths, "c0/new.png"])
    for split in ("train", "val", "test"):
        assert [paths[i] for i in before[split]] == [
            p for p in (paths[i] for i in after[split] if i < 1000)
        ]
    fractions = [len(before[s]) / 1000 for s in ("train", "val", "test")]
    assert abs(fractions[0] - 0.8) < 0.05 and abs(fractions[1] - 0.1) < 0.04


def test_folder_index_is_cached_and_redone_when_a_file_changes(tmp_path):
    root = write_folder(tmp_path / "pics", n=4)
    first = index_folder(root, None, None)
    assert not first.reused and (first.cache / "images.npy").is_file()
    assert np.load(first.cache / "images.npy", allow_pickle=False).shape == (12, 3, 32, 32)
    second = index_folder(root, None, None)
    assert second.reused and second.cache == first.cache
    assert np.array_equal(second.images, first.images)
    Image.new("RGB", (32, 32), (1, 2, 3)).save(root / "dog" / "002.png")
    third = index_folder(root, None, None)
    assert not third.reused and third.content_sha256 != first.content_sha256
    k = third.paths.index("dog/002.png")
    assert third.images[k, :, 10, 10].tolist() == [1, 2, 3]
    # a damaged cached array is not used either
    damaged = index_folder(root, None, None).cache / "images.npy"
    arr = np.load(damaged)
    arr[0, 0, 0, 0] ^= 1
    np.save(damaged, arr)
    assert not index_folder(root, None, None).reused


def test_image_size_resizes_and_channels_convert(tmp_path):
    root = write_folder(tmp_path / "pics", n=10)
    small = load_dataset(str(root), image_size=16)
    assert small.shape == (3, 16, 16)
    x, y = small.images["train"], small.labels["train"]
    colour = torch.tensor([COLOURS[small.classes[k]] for k in y.tolist()], dtype=torch.int16)
    assert (x[:, :, 8, 8].to(torch.int16) - colour).abs().max() <= 1  # a flat image stays flat
    grey = load_dataset(str(root), channels=1)
    assert grey.shape == (1, 32, 32)
    r, g, b = COLOURS["dog"]
    luma = round((r * 299 + g * 587 + b * 114) / 1000)
    k = grey.classes.index("dog")
    assert torch.all(grey.images["train"][grey.labels["train"] == k][:, 0, 5, 5] == luma)
    assert "shorter side" in small.source and "1 as asked" in grey.source


def test_non_square_images_are_centre_cropped(tmp_path):
    root = tmp_path / "wide"
    root.mkdir()
    img = Image.new("RGB", (64, 32), (0, 0, 0))
    img.paste((255, 255, 255), (16, 0, 48, 32))  # a white middle half
    for i in range(3):
        img.save(root / f"{i}.png")
    index = index_folder(root, 32, None)
    assert index.images.shape == (3, 3, 32, 32)
    assert index.images.min() == 255  # the crop is exactly the middle half
    assert index.labels.tolist() == [-1, -1, -1] and index.classes == ()


def test_mixed_sizes_and_mixed_modes(tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    Image.new("RGB", (32, 32), (255, 0, 0)).save(root / "a.png")
    Image.new("RGB", (40, 32), (255, 0, 0)).save(root / "b.png")
    with pytest.raises(DataError, match="--image-size") as exc:
        index_folder(root, None, None)
    assert "\n" not in str(exc.value)
    (root / "b.png").unlink()
    for i in range(2):
        Image.new("L", (32, 32), 90).save(root / f"g{i}.png")
    index = index_folder(root, None, None)  # 2 grey, 1 colour: the majority, grey
    assert index.images.shape == (3, 1, 32, 32) and "majority" in index.note
    assert index_folder(root, None, 3).images.shape == (3, 3, 32, 32)


def test_bad_folders_are_refused_in_one_line(tmp_path):
    root = write_folder(tmp_path / "pics", n=2)
    Image.new("RGB", (32, 32)).save(root / "loose.png")
    with pytest.raises(DataError, match="top level"):
        index_folder(root, None, None)
    (root / "loose.png").unlink()
    (root / "cat" / "000.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="000.png"):
        index_folder(root, None, None)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no PNG"):
        index_folder(empty, None, None)


def test_data_config_takes_a_name_or_an_existing_folder(tmp_path):
    root = write_folder(tmp_path / "pics", n=1)
    assert DataConfig(dataset=str(root)).dataset == str(root.resolve())
    with pytest.raises(ConfigError, match="mnist, fashion-mnist, kmnist, cifar10"):
        DataConfig(dataset="nowhere")  # a path is checked when it is loaded (see below)
    with pytest.raises(ConfigError, match="1 or 3"):
        DataConfig(image_channels=2)
    with pytest.raises(ConfigError, match="image-size"):
        DataConfig(image_size=0)


def test_cli_data_info_on_a_folder(tmp_path):
    root = write_folder(tmp_path / "pics", n=10)
    res = run_cli("data", "info", str(root), env={"GENZOO_CACHE": str(tmp_path / "c")})
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "shape: (3, 32, 32)" in out and "cat, dog, owl" in out and "split rule:" in out
    assert "per class" in out and "(new)" in out
    res = run_cli(
        "data", "info", str(root), "--image-size", "16", "--image-channels", "1",
        env={"GENZOO_CACHE": str(tmp_path / "c")},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "shape: (1, 16, 16)" in res.stdout
    res = run_cli("data", "info", str(tmp_path / "nowhere"))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "cifar10" in res.stderr


def test_train_on_a_folder_records_the_source_in_config_json(tmp_path):
    root = tmp_path / "digits"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(15):
            Image.new("L", (28, 28), 40 + 100 * (c == "b") + i).save(root / c / f"{i}.png")
    res = run_cli(
        "train", "vae", "--dataset", str(root), "--epochs", "1", "--hidden", "16",
        "--batch-size", "8", "--runs-dir", str(tmp_path / "runs"), "--name", "f", "--quiet",
        "--threads", "1", env={"GENZOO_CACHE": str(tmp_path / "c")},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    config = json.loads((tmp_path / "runs" / "f" / "config.json").read_text())
    assert config["data"]["dataset"] == str(root.resolve())
    info = config["data_info"]
    assert info["shape"] == [1, 28, 28] and info["classes"] == ["a", "b"]
    assert "seed" in info["split_rule"] and str(root.resolve()) in info["source"]
    assert sum(info["sizes"].values()) == 30


# --- Debian's dataset-fashion-mnist -----------------------------------------------------------

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
needs_debian = pytest.mark.skipif(
    not (DEBIAN / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian's package is not installed (apt-get install dataset-fashion-mnist)",
)


@needs_debian
def test_debian_fashion_mnist_loads(tmp_path):
    res = run_cli(
        "data", "info", "fashion-mnist", "--data-dir", str(tmp_path),
        env={"GENZOO_CACHE": str(tmp_path / "c")},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("verified (content sha256") == 4 and "from system" in res.stdout
    sizes = {
        line.split()[0]: int(line.split()[1])
        for line in res.stdout.splitlines()
        if line.strip().startswith(("train ", "val ", "test "))
    }
    assert sizes == {"train": 50000, "val": 10000, "test": 10000}  # 60,000 + 10,000
    assert "per class [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000]" in res.stdout


@needs_debian
def test_debian_fashion_mnist_is_the_original_deflate_data():
    """Debian dropped the file name from each gzip header (and changed the mtime); putting the
    original header back in front of Debian's deflate data gives the published file."""
    mtimes = {"train": 1504176606, "t10k": 1504176627}  # 2017-08-31 10:50:06 / 10:50:27 UTC
    for spec in DATASETS["fashion-mnist"].files.values():
        body = (DEBIAN / spec.name).read_bytes()[10:]
        stem = spec.name.removesuffix(".gz")
        header = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtimes[stem.split("-")[0]]) + b"\x00\x03"
        original = header + stem.encode() + b"\x00" + body
        assert hashlib.sha256(original).hexdigest() == spec.sha256, spec.name
        assert len(original) == spec.size


def test_a_run_on_a_moved_folder_still_opens_and_loading_says_it_is_gone(tmp_path):
    from genzoo.config import RunConfig

    gone = tmp_path / "moved-away"
    cfg = RunConfig.from_dict({"family": "vae", "model": {}, "data": {"dataset": str(gone)}})
    assert cfg.data.dataset == str(gone)  # a saved run still opens (e.g. to sample)
    with pytest.raises(ConfigError, match="no such folder"):
        load_dataset(str(gone))
    with pytest.raises(ConfigError, match="neither a registered name"):
        DataConfig(dataset="fashon-mnist")  # a typo of a name is still refused at once


def test_resized_arrays_are_cached_by_content(tmp_path, monkeypatch):
    from genzoo.data import resized
    from genzoo.data.imageops import transform_images

    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    x = torch.randint(0, 256, (6, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    x = x.to(torch.uint8).numpy()
    assert resized.cached_transform(x, None, None) is x  # nothing to do: nothing cached
    assert resized.cached_transform(x, 28, 1) is x
    first = resized.cached_transform(x, 16, 3)
    assert first.shape == (6, 3, 16, 16) and np.array_equal(first, transform_images(x, 16, 3))
    (path,) = (tmp_path / "resized").glob("*.npy")

    def never(*args: object) -> None:
        raise AssertionError("resized again")

    monkeypatch.setattr(resized, "transform_images", never)
    assert np.array_equal(resized.cached_transform(x, 16, 3), first)  # read back, not resized
    changed = x.copy()
    changed[0, 0, 0, 0] ^= 1
    with pytest.raises(AssertionError, match="resized again"):  # other content: another key
        resized.cached_transform(changed, 16, 3)
    with pytest.raises(AssertionError, match="resized again"):  # other options: another key
        resized.cached_transform(x, 16, 1)
    monkeypatch.setattr(resized, "transform_images", transform_images)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a damaged cache file is recomputed, never used
    path.write_bytes(bytes(data))
    assert np.array_equal(resized.cached_transform(x, 16, 3), first)
    path.write_bytes(path.read_bytes()[:100])  # and so is a truncated one
    assert np.array_equal(resized.cached_transform(x, 16, 3), first)
    assert np.array_equal(np.load(path, allow_pickle=False), first)  # rewritten whole
