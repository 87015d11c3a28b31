"""Reference-feature cache: keyed by what made it, reused when it matches, redone when not."""

from __future__ import annotations

import pytest
import torch

from genzoo.evaluation.classifier import load_classifier
from genzoo.evaluation.reference import reference_features, reference_path


@pytest.fixture()
def small_data(monkeypatch, tmp_path, mnist):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    return mnist.subset({"train": 64, "val": 8, "test": 40})


def test_reference_cache_is_reused_and_records_its_origin(small_data):
    net = load_classifier()
    first = reference_features(net, "mnist", "test", "unit", data=small_data)
    assert first.features.shape == (40, net.arch.feature_dim) and first.labels.shape == (40,)
    meta = first.meta
    assert meta["network_sha256"] == net.weights_sha256 and meta["view"] == "unit"
    assert (
        meta["split"] == "test"
        and meta["images"] == 40
        and meta["data_content_hash"] == small_data.content_hash()
    )
    again = reference_features(net, "mnist", "test", "unit", data=small_data)
    assert again.meta["created"] == meta["created"]  # read from the cache
    torch.testing.assert_close(again.features, first.features)


def test_reference_cache_with_another_record_is_recomputed(small_data):
    net = load_classifier()
    first = reference_features(net, "mnist", "test", "binary", data=small_data)
    path = reference_path(
        "mnist", "test", "binary", net.weights_sha256, None, 0, small_data.content_hash()
    )
    stored = torch.load(path, weights_only=True)
    stored["meta"]["network_sha256"] = "0" * 64  # a file made by another network
    torch.save(stored, path)
    redone = reference_features(net, "mnist", "test", "binary", data=small_data)
    assert redone.meta["created"] != first.meta["created"]
    assert redone.meta["network_sha256"] == net.weights_sha256


def test_seeded_train_subsets_differ_by_seed(small_data):
    net = load_classifier()
    a = reference_features(net, "mnist", "train", "unit", n=16, seed=0, data=small_data)
    b = reference_features(net, "mnist", "train", "unit", n=16, seed=1, data=small_data)
    assert a.features.shape == (16, net.arch.feature_dim)
    assert not torch.equal(a.features, b.features)


def test_a_subset_does_not_reuse_the_full_sets_features(small_data):
    net = load_classifier()
    full = reference_features(net, "mnist", "test", "unit", data=small_data)
    part = reference_features(net, "mnist", "test", "unit", data=small_data.subset({"test": 10}))
    assert full.features.shape[0] == 40 and part.features.shape[0] == 10
