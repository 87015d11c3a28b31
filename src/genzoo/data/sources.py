"""Known data sets: their four IDX gzip files, published sha256 and byte sizes, and mirrors.

Every data set is the standard quartet of IDX files (LeCun et al. 1998 format). The checksums
are the published ones for the original release files; a file with any other content is
refused, never silently replaced.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FileSpec", "DatasetSpec", "DATASETS", "get_spec", "ROLES"]

ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class FileSpec:
    """One IDX gzip file: its name, sha256 and size in bytes (``None`` where unpublished)."""

    name: str
    sha256: str
    size: int | None


@dataclass(frozen=True)
class DatasetSpec:
    """A data set of 28x28 grayscale images with ten classes."""

    name: str
    files: dict[str, FileSpec]  # role -> file, roles as in ``ROLES``
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]


_DIGITS = tuple(str(i) for i in range(10))

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        files={
            "train_images": FileSpec(
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                9912422,
            ),
            "train_labels": FileSpec(
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                28881,
            ),
            "test_images": FileSpec(
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                1648877,
            ),
            "test_labels": FileSpec(
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                4542,
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
            ),
            "train_labels": FileSpec(
                "train-labels-idx1-ubyte.gz",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                29515,
            ),
            "test_images": FileSpec(
                "t10k-images-idx3-ubyte.gz",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                4422102,
            ),
            "test_labels": FileSpec(
                "t10k-labels-idx1-ubyte.gz",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                5148,
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
