"""``genzoo evaluate`` with sample quality and ``genzoo compare``, on a tiny VAE run."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from genzoo.cli.main import main
from genzoo.evaluation.quality import QUALITY_KEYS

SAMPLES = 200


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, mnist):
    """A one-epoch VAE on 300 images (the session's isolated cache holds the references)."""
    from genzoo.api import train

    run = tmp_path_factory.mktemp("runs") / "vae-tiny"
    train("vae", run, threads=1, epochs=1, limit_train=300, limit_eval=100, hidden=32, z_dim=4)
    return run


@pytest.fixture(scope="module")
def evaluated(tiny_run):
    assert (
        main(["evaluate", str(tiny_run), "--samples", str(SAMPLES), "--k", "16", "--threads", "1"])
        == 0
    )
    return json.loads((tiny_run / "eval.json").read_text())


def test_evaluate_writes_every_quality_metric(evaluated):
    ev = evaluated
    assert ev["family"] == "vae" and ev["arch"] == "mlp" and ev["parameters"] > 0
    assert ev["train_time_s"] > 0 and ev["samples_per_s"] > 0
    for key in QUALITY_KEYS:
        assert math.isfinite(ev[key]), key
    assert 0 <= ev["precision"] <= 1 and 0 <= ev["recall"] <= 1
    assert 0 <= ev["rarest_class_share"] <= 0.1 + 1e-12 and ev["class_kl"] >= 0
    assert ev["fid"] > 0 and len(ev["class_shares"]) == 10
    assert ev["quality_protocol"]["samples"] == SAMPLES
    assert ev["quality_protocol"]["reference"]["images"] == 10_000  # the full test set
    assert ev["quality_protocol"]["reference"]["view"] == "binary"  # a Bernoulli VAE
    for key in ("nll_nats", "bpd", "neg_elbo_nats"):  # from the family's own evaluate
        assert math.isfinite(ev[key]), key


def test_evaluate_is_reproducible_and_no_quality_skips(tiny_run, evaluated):
    assert (
        main(["evaluate", str(tiny_run), "--samples", str(SAMPLES), "--k", "16", "--threads", "1"])
        == 0
    )
    again = json.loads((tiny_run / "eval.json").read_text())
    for key in QUALITY_KEYS:
        assert again[key] == evaluated[key], key
    assert main(["evaluate", str(tiny_run), "--no-quality", "--k", "16", "--threads", "1"]) == 0
    plain = json.loads((tiny_run / "eval.json").read_text())
    assert "fid" not in plain and plain["family"] == "vae"
    assert main(["evaluate", str(tiny_run), "--k", "4", "--threads", "1"]) == 0
    tiny = json.loads((tiny_run / "eval.json").read_text())
    assert tiny["quality_protocol"]["samples"] == 100  # the run's limit_eval, not 10,000
    (tiny_run / "eval.json").write_text(json.dumps(evaluated))  # restore for compare


def test_compare_markdown_and_csv(tiny_run, evaluated, tmp_path, capsys):
    (tiny_run / "eval.json").write_text(json.dumps(evaluated))
    assert main(["compare", str(tiny_run), "--threads", "1"]) == 0
    md = capsys.readouterr().out
    assert (
        "| run | family |" in md
        and "vae-tiny" in md
        and "real binarised (train vs test)" in md
        and "binarised test" in md
    )
    assert "binarised" in md and "not Inception" in md
    out = tmp_path / "table.csv"
    assert main(["compare", str(tiny_run), "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["name"] for r in rows] == ["vae-tiny", "real binarised (train vs test)"]
    assert float(rows[0]["fid"]) == pytest.approx(evaluated["fid"])
    floor = rows[1]
    # real data against real data: far closer than a one-epoch model
    assert float(floor["fid"]) < float(rows[0]["fid"])
    assert float(floor["precision"]) > float(rows[0]["precision"])


def test_compare_without_eval_json_is_a_one_line_error(tmp_path, capsys):
    assert main(["compare", str(tmp_path)]) == 1
    assert "genzoo evaluate" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing")]) == 1
    assert "no such run folder" in capsys.readouterr().err


def test_compare_skips_runs_not_yet_evaluated(tiny_run, evaluated, tmp_path, capsys):
    (tiny_run / "eval.json").write_text(json.dumps(evaluated))
    pending = tmp_path / "pending"
    pending.mkdir()
    assert main(["compare", str(tiny_run), str(pending), "--no-floor"]) == 0
    out = capsys.readouterr()
    assert "vae-tiny" in out.out and "pending" not in out.out
    assert "skipping" in out.err and "not evaluated" in out.err


def test_sample_quality_of_a_diverged_model_is_finite_and_flagged(mnist):
    import torch

    from genzoo.evaluation.classifier import load_classifier
    from genzoo.evaluation.quality import QualityConfig, sample_quality
    from genzoo.evaluation.reference import reference_features

    def nan_sampler(model, n, generator):
        x = torch.rand(n, 1, 28, 28, generator=generator)
        x[::2] = float("nan")
        return x

    net = load_classifier()
    small = mnist.subset({"train": 64, "val": 8, "test": 200})
    ref = reference_features(net, "mnist", "test", data=small, use_cache=False)
    out = sample_quality(nan_sampler, None, net, ref, QualityConfig(samples=50, batch_size=20))
    assert out["nonfinite_samples"] == 25 and out["samples_per_s"] > 0
    for key in QUALITY_KEYS:
        assert math.isfinite(out[key]), key
