"""The evaluation network: shipped weights' accuracy, integrity checks, determinism."""

from __future__ import annotations

import shutil

import pytest
import torch

from genzoo.errors import ChecksumError
from genzoo.evaluation.classifier import (
    WEIGHTS_DIR,
    MnistClassifier,
    classifier_record,
    load_classifier,
)
from genzoo.evaluation.train_classifier import EvaluatorConfig, augment, train_classifier


def test_shipped_weights_reach_the_promised_test_accuracy(mnist):
    net = load_classifier()
    labels = net.predict(mnist.view("test", "unit"))
    acc = float((labels == mnist.labels["test"]).double().mean())
    assert acc >= 0.993, acc
    assert acc == pytest.approx(classifier_record()["test_accuracy"], abs=1e-4)


def test_predict_and_features_shapes_and_determinism():
    net = load_classifier()
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels, feats = net.predict(x), net.features(x)
    assert labels.shape == (5,) and labels.dtype == torch.int64
    assert feats.shape == (5, net.arch.feature_dim) and feats.dtype == torch.float32
    both_f, both_l = net.features_and_labels(x, batch_size=2)
    torch.testing.assert_close(both_f, feats)
    assert torch.equal(both_l, labels) and torch.equal(net.predict(x), labels)
    assert not net.training


def test_modified_weights_are_refused(tmp_path):
    for name in ("mnist_classifier.pt", "mnist_classifier.json"):
        shutil.copy(WEIGHTS_DIR / name, tmp_path / name)
    weights = tmp_path / "mnist_classifier.pt"
    load_classifier(weights)  # an intact copy loads
    raw = bytearray(weights.read_bytes())
    raw[-100] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="sha256"):
        load_classifier(weights)


def test_augment_with_zero_ranges_is_identity():
    cfg = EvaluatorConfig(max_rotation_deg=0.0, max_scale=0.0, max_shift_px=0.0)
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(augment(x, cfg, torch.Generator().manual_seed(2)), x)


def test_training_is_deterministic_from_its_seed(mnist, tmp_path):
    cfg = EvaluatorConfig(epochs=1, limit_train=256, limit_eval=64, batch_size=64, seed=3)
    quiet = lambda _: None  # noqa: E731
    a, rec_a = train_classifier(cfg, out=tmp_path / "a.pt", log=quiet)
    b, rec_b = train_classifier(cfg, out=tmp_path / "b.pt", log=quiet)
    assert rec_a["sha256"] == rec_b["sha256"]
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(va, vb), ka
    loaded = load_classifier(tmp_path / "a.pt")
    assert isinstance(loaded, MnistClassifier) and loaded.weights_sha256 == rec_a["sha256"]


def test_mnist_normalisation_from_its_data_is_the_shipped_one(mnist):
    """The trainer normalises by the non-test images' statistics: for MNIST, the shipped
    network's 0.1307 and 0.3081, so `genzoo evaluator train` still reproduces its weights."""
    from genzoo.evaluation.classifier import ClassifierArch
    from genzoo.evaluation.train_classifier import channel_stats

    mean, std = channel_stats(torch.cat([mnist.images["train"], mnist.images["val"]]))
    assert ClassifierArch.for_shape(mnist.shape, 10, mean, std) == ClassifierArch()
