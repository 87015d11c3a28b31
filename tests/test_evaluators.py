"""Evaluation networks for any labelled data set: sized from the shape, trained on a synthetic
RGB set, cached by the data's content, refused when modified, used by evaluate and the floor."""

from __future__ import annotations

import json
import math
import shlex
import shutil

import pytest
import torch

from genzoo.data import ImageData
from genzoo.errors import ChecksumError, ConfigError
from genzoo.evaluation.classifier import (
    WEIGHTS_DIR,
    ClassifierArch,
    EvalClassifier,
    classifier_record,
)
from genzoo.evaluation.evaluators import evaluator_path, find_evaluator, load_evaluator
from genzoo.evaluation.quality import QUALITY_KEYS
from genzoo.evaluation.train_classifier import EvaluatorConfig, channel_stats, train_classifier

quiet = lambda _: None  # noqa: E731
_PALETTE = torch.tensor([[230, 40, 40], [40, 230, 40], [40, 40, 230], [230, 230, 40]])


def synthetic(
    shape: tuple[int, int, int] = (3, 32, 32),
    sizes: tuple[int, int, int] = (256, 64, 64),
    labelled: bool = True,
    name: str = "synth",
    seed: int = 0,
) -> ImageData:
    """Four learnable classes: a coloured square in the class's quadrant on dim noise."""
    c, h, w = shape
    gen = torch.Generator().manual_seed(seed)
    images, labels = {}, {}
    for split, n in zip(("train", "val", "test"), sizes, strict=True):
        y = torch.randint(0, 4, (n,), generator=gen)
        x = torch.randint(0, 60, (n, c, h, w), generator=gen, dtype=torch.uint8)
        for i, k in enumerate(y.tolist()):
            top, left = (k // 2) * (h // 2) + h // 8, (k % 2) * (w // 2) + w // 8
            colour = _PALETTE[k, :c].view(c, 1, 1).to(torch.uint8)
            x[i, :, top : top + h // 4, left : left + w // 4] = colour
        images[split], labels[split] = x, y if labelled else torch.zeros(n, dtype=torch.int64)
    classes = ("red", "green", "blue", "yellow") if labelled else ()
    return ImageData(name, images, labels, classes=classes)


@pytest.fixture()
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    return tmp_path


FAST = EvaluatorConfig(
    epochs=3, batch_size=16, lr=3e-3, max_rotation_deg=0.0, max_scale=0.0, seed=1
)


@pytest.fixture(scope="module")
def rgb():
    return synthetic()


@pytest.fixture(scope="module")
def rgb_network(rgb, tmp_path_factory):
    """The synthetic set's network, trained once (the slow part of these tests)."""
    out = tmp_path_factory.mktemp("evaluator") / "evaluator.pt"
    net, record = train_classifier(FAST, out=out, data=rgb, log=quiet)
    return net, record, out


@pytest.fixture()
def trained(rgb, rgb_network, cache):
    """A copy of the synthetic set's network in the (per-test) cache, where evaluate looks."""
    net, record, made = rgb_network
    out = evaluator_path(rgb.content_hash())
    out.parent.mkdir(parents=True)
    for suffix in (".pt", ".json"):
        shutil.copy(made.with_suffix(suffix), out.with_suffix(suffix))
    return net, record, out


# --- the architecture ---------------------------------------------------------------------


def test_mnist_shape_gives_exactly_the_shipped_architecture():
    assert ClassifierArch.for_shape((1, 28, 28), 10) == ClassifierArch()
    shipped = classifier_record()
    assert ClassifierArch.from_dict(shipped["arch"]) == ClassifierArch()  # an old record
    state = torch.load(WEIGHTS_DIR / "mnist_classifier.pt", weights_only=True)
    ours = EvalClassifier(ClassifierArch.for_shape((1, 28, 28), 10)).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in state.items()}


def test_shipped_features_are_the_old_formula():
    """Grey input is normalised with Python scalars, as the MNIST-only network did."""
    from genzoo.evaluation.classifier import load_classifier

    net = load_classifier()
    x = torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        old = net.body((x - 0.1307) / 0.3081)
    assert torch.equal(net.features(x), old)


@pytest.mark.parametrize(
    ("shape", "stages"),
    [((3, 32, 32), 3), ((1, 28, 28), 3), ((3, 64, 48), 4), ((1, 7, 7), 2), ((3, 300, 200), 6)],
)
def test_network_is_sized_from_any_shape(shape, stages):
    arch = ClassifierArch.for_shape(shape, 5)
    assert len(arch.channels) == stages and arch.shape == shape
    torch.manual_seed(0)
    net = EvalClassifier(arch).eval()
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(1))
    assert net(x).shape == (2, 5) and net.features(x).shape == (2, arch.feature_dim)
    with pytest.raises(ConfigError, match="takes"):
        net.features(torch.rand(2, shape[0], shape[1] + 2, shape[2]))


def test_channel_stats_are_exact_and_per_channel():
    x = torch.zeros(10, 3, 4, 4, dtype=torch.uint8)
    x[:, 1] = 255
    x[:5, 2] = 255
    mean, std = channel_stats(x, chunk=3)
    assert mean == (0.0, 1.0, 0.5) and std[0] == 0.0001 and std[1] == 0.0001
    assert std[2] == pytest.approx(0.5, abs=2e-3)


# --- training and the cache ---------------------------------------------------------------


def test_synthetic_rgb_network_learns_and_records_what_made_it(rgb, trained):
    net, record, out = trained
    assert record["test_accuracy"] >= 0.9, record["history"]
    assert net.arch.shape == (3, 32, 32) and net.arch.num_classes == 4
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["content_hash"] == rgb.content_hash() and meta["dataset"] == "synth"
    assert meta["shape"] == [3, 32, 32] and meta["classes"] == list(rgb.classes)
    assert meta["seed"] == 1 and meta["epochs"] == 3 and meta["genzoo"]
    assert meta["test_accuracy"] == record["test_accuracy"] and len(meta["sha256"]) == 64
    assert len(meta["arch"]["mean"]) == 3 and meta["arch"]["mean"] != meta["arch"]["std"]
    loaded = load_evaluator(rgb)
    assert loaded.weights_sha256 == meta["sha256"]
    x = rgb.view("test", "unit")
    torch.testing.assert_close(loaded.features(x), net.features(x))


def test_the_recorded_command_parses_back_to_the_config():
    from genzoo.cli.main import build_parser

    cfg = EvaluatorConfig(dataset="my set", hflip=True, keep="best", patience=2, lr=0.01)
    from genzoo.evaluation.train_classifier import _command

    words = shlex.split(_command(cfg))
    args = build_parser().parse_args(words[1:])
    assert {f: getattr(args, f) for f in args.cfg_fields if hasattr(args, f)} == {
        "dataset": "my set",
        "hflip": True,
        "keep": "best",
        "patience": 2,
        "lr": 0.01,
    }


def test_keep_best_and_patience_use_validation(rgb):
    cfg = EvaluatorConfig(epochs=4, batch_size=64, lr=1e-6, patience=1, keep="best", seed=2)
    _, record = train_classifier(cfg, data=rgb.subset({"train": 64}), log=quiet)
    accs = [h["val_acc"] for h in record["history"]]
    assert record["epochs"] == len(accs) and record["epochs"] <= 4
    assert record["val_accuracy"] == max(accs) and accs[record["kept_epoch"] - 1] == max(accs)


def test_a_changed_pixel_does_not_reuse_the_network(rgb, trained):
    changed = ImageData(
        rgb.name, {k: v.clone() for k, v in rgb.images.items()}, rgb.labels, classes=rgb.classes
    )
    changed.images["test"][0, 0, 0, 0] ^= 1
    net, reason = find_evaluator(changed)
    assert net is None and "genzoo evaluator train --dataset synth" in reason
    assert find_evaluator(rgb)[0] is not None


def test_a_network_recorded_for_other_data_is_refused(rgb, trained):
    _, _, out = trained
    meta = json.loads(out.with_suffix(".json").read_text())
    meta["classes"] = ["a", "b", "c", "d"]
    out.with_suffix(".json").write_text(json.dumps(meta))
    net, reason = find_evaluator(rgb)
    assert net is None and "classes differs" in reason and "genzoo evaluator train" in reason


def test_tampered_weights_are_refused(rgb, trained):
    _, _, out = trained
    raw = bytearray(out.read_bytes())
    raw[-100] ^= 0xFF
    out.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="sha256"):
        load_evaluator(rgb)
    net, reason = find_evaluator(rgb)
    assert net is None and "sha256" in reason and "genzoo evaluator train" in reason


def test_unlabelled_data_has_no_network(cache):
    data = synthetic(labelled=False)
    with pytest.raises(ConfigError, match="no class labels"):
        train_classifier(FAST, data=data, log=quiet)
    net, reason = find_evaluator(data)
    assert net is None and "no class labels" in reason and "evaluator train" not in reason


def test_mnist_uses_the_shipped_network(mnist, cache):
    net = load_evaluator(mnist)
    assert net.weights_path == WEIGHTS_DIR / "mnist_classifier.pt"


# --- evaluate, compare and the CLI on a synthetic data set ---------------------------------


@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory, mnist):
    """A one-epoch 1x28x28 VAE; the tests below swap its data set for a synthetic one."""
    from genzoo.api import train

    run = tmp_path_factory.mktemp("runs") / "vae"
    train("vae", run, threads=1, epochs=1, limit_train=200, limit_eval=60, hidden=16, z_dim=2)
    return run


def _serve(monkeypatch, data: ImageData) -> None:
    """Make every ``load_dataset`` return ``data`` (as the data layer would for a new set)."""
    import genzoo.data.datasets as datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: data)


def test_evaluate_measures_a_synthetic_labelled_set(tiny_vae, cache, monkeypatch, capsys):
    from genzoo.cli.main import main
    from genzoo.runs.compare import floors_for

    grey = synthetic((1, 28, 28), (256, 64, 120), name="grey-synth")
    _serve(monkeypatch, grey)
    assert main(["evaluate", str(tiny_vae), "--k", "2", "--threads", "1"]) == 0
    skipped = json.loads((tiny_vae / "eval.json").read_text())
    err = capsys.readouterr().err
    assert "fid" not in skipped and "genzoo evaluator train --dataset mnist" in err
    assert skipped["skipped_metrics"][: len(QUALITY_KEYS)] == list(QUALITY_KEYS)
    _, record = train_classifier(
        FAST, out=evaluator_path(grey.content_hash()), data=grey, log=quiet
    )
    assert main(["evaluate", str(tiny_vae), "--k", "2", "--threads", "1"]) == 0
    ev = json.loads((tiny_vae / "eval.json").read_text())
    for key in QUALITY_KEYS:
        assert math.isfinite(ev[key]), key
    assert "quality_skipped" not in ev and len(ev["class_shares"]) == 4
    assert ev["quality_protocol"]["network_sha256"] == record["sha256"]
    assert ev["quality_protocol"]["reference"]["data_content_hash"] == grey.content_hash()
    reference = ev["quality_protocol"]["reference"]  # how the floor reloads the data
    assert reference["image_size"] is None and reference["image_channels"] is None
    (floor,) = floors_for([ev])
    assert floor["quality_protocol"]["network_sha256"] == record["sha256"]
    assert floor["fid"] < ev["fid"]


def test_evaluate_skips_quality_of_an_unlabelled_set(tiny_vae, cache, monkeypatch):
    from genzoo.runs.evaluate import evaluate_run

    _serve(monkeypatch, synthetic((1, 28, 28), (256, 64, 64), labelled=False))
    ev = evaluate_run(tiny_vae, k=2)
    assert "fid" not in ev and "no class labels" in ev["quality_skipped"]
    assert set(QUALITY_KEYS) <= set(ev["skipped_metrics"])
    assert math.isfinite(ev["nll_nats"])  # likelihoods still measured


def test_interpolation_classifier_follows_the_data_set(tiny_vae, cache, monkeypatch):
    from genzoo.runs import load_run
    from genzoo.runs.interpolate import load_classifier_or_reason

    run = load_run(tiny_vae)
    net, _ = load_classifier_or_reason(run)
    assert net is not None and net.weights_path == WEIGHTS_DIR / "mnist_classifier.pt"
    _serve(monkeypatch, synthetic((1, 28, 28), (64, 16, 16), name="other"))
    net, reason = load_classifier_or_reason(run)
    assert net is None and "genzoo evaluator train" in reason
    assert load_classifier_or_reason()[0] is not None  # no run: the shipped network


def test_cli_trains_into_the_cache_by_content_hash(cache, mnist, capsys):
    from genzoo.cli.main import main
    from tests.conftest import run_cli

    args = ["--epochs", "1", "--limit-train", "128", "--limit-eval", "32", "--threads", "1"]
    proc = run_cli("evaluator", "train", "--dataset", "mnist", *args)
    assert proc.returncode == 0, proc.stderr
    out = evaluator_path(mnist.content_hash())
    meta = json.loads(out.with_suffix(".json").read_text())
    assert f"wrote {out}" in proc.stdout and "shipped network" in proc.stdout
    assert meta["content_hash"] == mnist.content_hash() and meta["epochs"] == 1
    capsys.readouterr()  # an unknown data set: refused in one line (in-process: no start-up)
    assert main(["evaluator", "train", "--dataset", "no-such-set"]) != 0
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# --- resized data (--image-size, --image-channels) -----------------------------------------

SMALL = ("--image-size", "16", "--image-channels", "1")


@pytest.fixture()
def pics(tmp_path):
    """A folder of 3x32x32 RGB PNGs, 20 in each of three classes."""
    from tests.test_data_sources import write_folder

    return str(write_folder(tmp_path / "pics", n=20))


def test_cli_trains_the_network_of_resized_data_that_evaluate_finds(pics, cache, capsys):
    from genzoo.cli.main import main
    from genzoo.config import DataConfig
    from genzoo.data import load_dataset

    small = load_dataset(pics, image_size=16, channels=1)  # as a run with SMALL loads it
    source = DataConfig(pics, image_size=16, image_channels=1)  # a run's config.data
    net, reason = find_evaluator(small, source=source)
    assert net is None and f"--dataset {shlex.quote(pics)} {' '.join(SMALL)}" in reason
    fast = ["--epochs", "1", "--batch-size", "16", "--threads", "1"]
    assert main(["evaluator", "train", "--dataset", pics, *SMALL, *fast]) == 0
    out = evaluator_path(small.content_hash())
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["shape"] == [1, 16, 16] and " ".join(SMALL) in meta["reproduce"]
    net = load_evaluator(load_dataset(pics, image_size=16, channels=1))
    assert net.arch.shape == (1, 16, 16) and net.weights_path == out
    assert find_evaluator(small, shape=(1, 16, 16))[0] is not None
    native, reason = find_evaluator(load_dataset(pics))  # the 3x32x32 images are other data
    assert native is None and "--image-size" not in reason
    capsys.readouterr()
    assert main(["evaluator", "info", "--dataset", pics, *SMALL]) == 0
    assert json.loads(capsys.readouterr().out)["sha256"] == meta["sha256"]


def test_the_floor_loads_the_data_as_the_record_says(pics, cache):
    from dataclasses import asdict

    from genzoo.data import load_dataset
    from genzoo.evaluation.quality import QualityConfig
    from genzoo.runs.compare import floors_for

    small = load_dataset(pics, image_size=16, channels=1)
    cfg = EvaluatorConfig(dataset=pics, image_size=16, image_channels=1, epochs=1, batch_size=16)
    _, made = train_classifier(cfg, out=evaluator_path(small.content_hash()), log=quiet)
    assert made["content_hash"] == small.content_hash()  # data=None: loaded as cfg says
    protocol = asdict(QualityConfig(samples=8, k=1, kid_subsets=2))
    reference = {"dataset": pics, "view": "unit", "image_size": 16, "image_channels": 1}
    (floor,) = floors_for([{"quality_protocol": {**protocol, "reference": reference}}])
    assert floor["quality_protocol"]["data_content_hash"] == small.content_hash()
    assert floor["quality_protocol"]["network_sha256"] == made["sha256"]
    old = {"dataset": pics, "view": "unit"}  # a record from before the sizes were recorded
    with pytest.warns(UserWarning, match="no real-vs-real floor for .*: no evaluation network"):
        assert floors_for([{"quality_protocol": {**protocol, "reference": old}}]) == []


def test_runs_on_two_data_sets_get_a_floor_each(pics, cache):
    from dataclasses import asdict

    from genzoo.data import load_dataset
    from genzoo.evaluation.quality import QualityConfig
    from genzoo.evaluation.table import comparison_notes
    from genzoo.runs.compare import floors_for

    protocol = asdict(QualityConfig(samples=8, k=1, kid_subsets=2))
    evals = []
    for size in (16, 8):
        small = load_dataset(pics, image_size=size, channels=1)
        cfg = EvaluatorConfig(
            dataset=pics, image_size=size, image_channels=1, epochs=1, batch_size=16
        )
        _, made = train_classifier(cfg, out=evaluator_path(small.content_hash()), log=quiet)
        reference = {"dataset": pics, "view": "unit", "image_size": size, "image_channels": 1}
        record = {**protocol, "reference": reference, "network_sha256": made["sha256"]}
        evals.append((f"run{size}", {"quality_protocol": record, "hash": small.content_hash()}))
    floors = floors_for([ev for _, ev in evals])
    assert [f["quality_protocol"]["data_content_hash"] for f in floors] == [
        ev["hash"] for _, ev in evals
    ]
    assert [f["name"] for f in floors] == [
        f"real 8-bit (train vs test), {pics} ({s}x{s}, grey)" for s in (16, 8)
    ]
    notes = " ".join(comparison_notes(evals, floors))
    assert f"{pics} (16x16, grey): run16; {pics} (8x8, grey): run8" in notes
    assert "WARNING" not in notes  # one protocol per data set, each floor matches its runs
    (floor,) = floors_for([evals[1][1]])  # one data set: the floor's name as before
    assert floor["name"] == "real 8-bit (train vs test)"
