"""The flow model at full size (1x28x28), its step, bf16 autocast and the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch

from genzoo.family import get_family
from genzoo.models.flow import FlowConfig, build_flow

from .conftest import run_cli
from .test_flow import DTYPE, gen, pixels, randomize


@pytest.mark.parametrize("arch", ["mlp", "realnvp"])
def test_built_flow_round_trip_and_sampling(arch: str):
    cfg = FlowConfig(arch=arch, hidden=16, channels=8, blocks=1)
    model = randomize(build_flow(cfg).to(DTYPE), 0, scale=0.05)  # 20 layers deep: milder
    x = pixels((1, 28, 28))(3)
    lp = model.log_prob(x, gen(0))
    assert lp.shape == (3,) and torch.isfinite(lp).all()
    torch.testing.assert_close(model.decode(model.encode(x)), x, atol=0, rtol=0)
    FAMILY = get_family("flow")  # the interface `genzoo interpolate` uses

    z = FAMILY.encode(model, x.to(torch.uint8))
    assert z.shape == (3, FAMILY.latent_dim(cfg, (1, 28, 28)))
    torch.testing.assert_close(FAMILY.decode(model, z) * 255, x, atol=1e-9, rtol=0)
    images = model.sample(4, gen(1), temperature=0.7)
    assert images.shape == (4, 1, 28, 28)
    assert torch.equal(images * 255, (images * 255).round())
    assert images.min() >= 0 and images.max() <= 1


def test_bf16_autocast_keeps_logdet_in_fp32():
    """Under bf16 autocast the networks run in bf16 but the affine maps, log-dets and their
    sums stay fp32: log-dets are those of the map applied (inverse = -forward), and the body
    inverts its own output to bf16 precision. The inverse's conditioner inputs are rebuilt
    values that differ from the forward's in the last fp32 bits, and bf16 rounding can turn
    that into a bf16 step of a scale, so the continuous round trip holds to ~1e-2 in logit
    space, not exactly, and an 8-bit pixel whose dequantised value lies that close to a bin
    edge may come back one level off (without native bf16, 2% of them here; in fp32 none)."""
    torch.manual_seed(0)
    model = randomize(build_flow(FlowConfig(arch="realnvp", channels=8, blocks=1)), 0, 0.05)
    x = pixels((1, 28, 28))(4).to(torch.uint8)
    model.log_prob(x, gen(0))  # ActNorm's data-dependent initialisation, in fp32
    *pre, body = model.transform.transforms
    y = x.float()
    for t in pre:  # dequantise, scale, logit: no networks, fp32
        y, _ = t(y, gen(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z, ld = body(y)
        y_back, ld_inv = body.inverse(z)
        lp = model.log_prob(x, gen(0))
        x_back, _ = model.transform.inverse(model.transform(x, gen(0))[0])
    assert z.dtype == ld.dtype == lp.dtype == y_back.dtype == torch.float32
    torch.testing.assert_close(ld_inv, -ld, atol=5e-2, rtol=1e-5)  # 784 dims: ~1e-4 nats each
    torch.testing.assert_close(y_back, y, atol=3e-2, rtol=1e-2)  # logit space, bf16 steps
    assert (x_back - x.float()).abs().max() <= 1 and (x_back != x.float()).float().mean() < 0.05
    x_fp32, _ = model.transform.inverse(model.transform(x, gen(0))[0])
    assert torch.equal(x_fp32, x.float())


def test_train_step_changes_weights_and_eval_step_does_not():
    from genzoo.config import TrainConfig
    from genzoo.data.batches import Batch
    from genzoo.models.flow.step import FlowStep

    torch.manual_seed(0)
    model = build_flow(FlowConfig(hidden=16))
    step = FlowStep(model, FlowConfig(hidden=16), TrainConfig())
    batch = Batch(pixels((1, 28, 28))(8).to(torch.uint8), torch.zeros(8, dtype=torch.long))
    before = [p.detach().clone() for p in model.parameters()]
    terms = step.eval_step(batch, gen(0))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert set(terms) == {"loss", "bpd"} and terms["loss"].shape == (8,)
    torch.testing.assert_close(terms["bpd"], terms["loss"] / (784 * math.log(2)))
    step.train_step(batch, gen(0))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_cli_train_sample_evaluate(tmp_path, data_dir):
    runs = tmp_path / "runs"
    common = ["--runs-dir", str(runs), "--threads", "1", "--quiet"]
    r = run_cli(
        "train",
        "flow",
        "--hidden",
        "32",
        "--epochs",
        "1",
        "--limit-train",
        "128",
        "--limit-eval",
        "64",
        "--sample-epochs",
        "0,1",
        "--name",
        "tiny",
        *common,
    )
    assert r.returncode == 0, r.stderr
    run = runs / "tiny"
    assert (run / "figures" / "bpd.png").is_file()
    assert (run / "figures" / "samples_T1.png").is_file()
    # sample and evaluate in-process (the subprocess is the point only of `train` here; other
    # smoke tests run them as subprocesses): two start-ups fewer
    from genzoo.cli.main import main

    assert main(["sample", str(run), "-n", "4", "--temperature", "0.7", "--device", "cpu"]) == 0
    threads = torch.get_num_threads()  # --threads 1 sets this process's count
    try:
        ev = ["evaluate", str(run), "--dequant-samples", "2", "--device", "cpu", "--threads", "1"]
        assert main(ev) == 0
    finally:
        torch.set_num_threads(threads)
    result = json.loads((run / "eval.json").read_text())
    assert result["dequant_samples"] == 2 and result["bpd"] > result["bpd_iw"] - 1e-9
    assert abs(result["nats"] / (784 * math.log(2)) - result["bpd"]) < 1e-9
