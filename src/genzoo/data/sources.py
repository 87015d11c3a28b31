"""Known data sets: their files, published checksums and byte sizes, mirrors and split rules.

``kind="idx"``: the standard quartet of gzip-compressed IDX files (LeCun et al. 1998 format).
``kind="cifar10-binary"``: the official CIFAR-10 binary archive (Krizhevsky 2009), one tar.gz.

``sha256`` is the published checksum of the file as released. ``content_sha256``, where known,
is the sha256 of the *decompressed* content: a file with either checksum is accepted (so a
re-compressed copy of the same content loads, e.g. Debian's ``dataset-fashion-mnist``, which
drops the file name from the gzip header), and anything else is refused, never silently
replaced. ``check_dataset`` accepts a registered name or an existing folder of images.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FileSpec",
    "DatasetSpec",
    "DATASETS",
    "get_spec",
    "check_dataset",
    "is_registered",
    "ROLES",
]

ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class FileSpec:
    """One file: its name, sha256 and size in bytes (``None`` where unpublished), and the
    sha256 of its decompressed content (``None`` where unknown: only the file itself counts)."""

    name: str
    sha256: str
    size: int | None
    content_sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A registered data set: its files by role, mirrors, class names and split rule."""

    name: str
    files: dict[str, FileSpec]  # role -> file; idx: roles as in ``ROLES``, cifar: "archive"
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]
    kind: str = "idx"
    n_train: int = 50_000  # the first n_train images of the training file train, the rest val


_DIGITS = tuple(str(i) for i in range(10))

# Where the content checksums come from:
# - mnist: decompressed from the original release files (their md5s, compressed and
#   decompressed, match the published ones).
# - fashion-mnist: decompressed from Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1.
#   Its four files are the original gzip members with the stored file name dropped and the
#   mtime changed, deflate data untouched: writing the original header back (FNAME = the file
#   name without ".gz", mtime 1504176606 for train-*, 1504176627 for t10k-*, i.e. 2017-08-31
#   10:50:06/27 UTC, XFL 0, OS 3) in front of Debian's deflate data gives, for all four files,
#   the published sha256 below. So the decompressed content is that of the original release.
#   The IDX headers say 60,000 and 10,000 images of 28x28 and as many labels.
# - kmnist: no copy was available here, so only the published checksums of the compressed
#   files are known; a re-compressed copy of KMNIST is refused until its content sha256 is
#   added (a file matching the published sha256 is accepted, as before).
DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        files={
            "train_images": FileSpec(
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                9912422,
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            ),
            "train_labels": FileSpec(
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                28881,
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
            "test_images": FileSpec(
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                1648877,
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            ),
            "test_labels": FileSpec(
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                4542,
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        classes=_DIGITS,
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        files={
            "train_images": FileSpec(
                "train-images-idx3-ubyte.gz",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                26421880,
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            "train_labels": FileSpec(
                "train-labels-idx1-ubyte.gz",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                29515,
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
            "test_images": FileSpec(
                "t10k-images-idx3-ubyte.gz",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                4422102,
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            "test_labels": FileSpec(
                "t10k-labels-idx1-ubyte.gz",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                5148,
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        classes=(
            "t-shirt",
            "trouser",
            "pullover",
            "dress",
            "coat",
            "sandal",
            "shirt",
            "sneaker",
            "bag",
            "ankle-boot",
        ),
    ),
    "kmnist": DatasetSpec(
        name="kmnist",
        files={
            "train_images": FileSpec(
                "train-images-idx3-ubyte.gz",
                "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                None,
            ),
            "train_labels": FileSpec(
                "train-labels-idx1-ubyte.gz",
                "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                None,
            ),
            "test_images": FileSpec(
                "t10k-images-idx3-ubyte.gz",
                "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                3041136,
            ),
            "test_labels": FileSpec(
                "t10k-labels-idx1-ubyte.gz",
                "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
                5120,
            ),
        },
        mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        classes=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    ),
    # The official binary version (one label byte + 3072 pixel bytes per record, R, G, B planes
    # of 32x32), read without pickle. Its published md5 is c32a1d4ab5d03f1284b67883e8d87530;
    # the sha256 and size are the ones recorded by other loaders of the same archive
    # (gomlx/gomlx examples/cifar, JuliaML MLDatasets.jl), 170,052,171 bytes. Only the file
    # itself is checked: there is no published checksum of the decompressed tar.
    "cifar10": DatasetSpec(
        name="cifar10",
        files={
            "archive": FileSpec(
                "cifar-10-binary.tar.gz",
                "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
                170052171,
            )
        },
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        classes=(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),
        kind="cifar10-binary",
        n_train=45_000,
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """Return the spec of a data set by name, or raise a ``ConfigError`` listing the choices."""
    from genzoo.errors import ConfigError

    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}"
        ) from None


def is_registered(name: str) -> bool:
    """True for a registered name (a folder of the same name needs a path: ``./mnist``)."""
    return name in DATASETS


def check_dataset(name: str) -> None:
    """Accept a registered name, an existing folder, or a path (it has a separator): a saved
    run keeps its folder's absolute path and must still open (to sample) when the folder has
    moved; loading its data then says the folder is missing. Else a one-line ``ConfigError``."""
    from genzoo.errors import ConfigError

    if is_registered(name) or Path(name).expanduser().is_dir() or os.sep in name:
        return
    raise ConfigError(
        f"unknown data set {name!r}: neither a registered name ({', '.join(DATASETS)}) "
        "nor an existing folder of images"
    )
