"""Every family on C x H x W images: models sized from the data's shape, refusals in one line,
exact flow log-dets on RGB, and a tiny RGB data set trained, sampled, drawn, interpolated and
evaluated end to end (issue 14, item 3)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from genzoo.errors import ConfigError
from genzoo.family import get_family
from tests.conftest import run_cli

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 32, 32), (3, 16, 16)]
TINY: dict[str, tuple[str, dict[str, Any]]] = {  # name -> (family, tiny config)
    "vae-mlp-bernoulli": ("vae", {"hidden": 32, "z_dim": 4}),
    "vae-mlp-logistic": ("vae", {"hidden": 32, "z_dim": 4, "likelihood": "logistic"}),
    "vae-conv-bernoulli": ("vae", {"arch": "conv", "hidden": 32, "z_dim": 4, "channels": 4}),
    "vae-conv-logistic": (
        "vae", {"arch": "conv", "hidden": 32, "z_dim": 4, "channels": 4, "likelihood": "logistic"},
    ),
    "gan-mlp": ("gan", {"z_dim": 8}),
    "gan-dcgan": ("gan", {"arch": "dcgan", "z_dim": 8, "width": 4}),
    "flow-mlp": ("flow", {"pairs": 1, "hidden": 16}),
    "flow-realnvp": ("flow", {"arch": "realnvp", "channels": 4, "blocks": 1}),
}  # fmt: skip


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _build(name: str, shape: tuple[int, int, int], **extra: Any) -> tuple[Any, Any, nn.Module]:
    fam_name, kw = TINY[name]
    fam = get_family(fam_name)
    cfg = fam.config_cls(**{**kw, **extra})
    torch.manual_seed(0)
    return fam, cfg, fam.build(cfg, shape)


def _images(shape: tuple[int, ...], n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n, *shape), generator=_gen(seed), dtype=torch.uint8)


def _supported(name: str, shape: tuple[int, int, int]) -> bool:
    return not (name.endswith("bernoulli") and shape[0] != 1)


CASES = [
    pytest.param(n, s, id=f"{n}-{'x'.join(map(str, s))}")
    for n in TINY
    for s in SHAPES
    if _supported(n, s)
]


# model shapes --------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "shape"), CASES)
def test_model_sizes_from_the_shape_and_samples_images_of_it(name: str, shape):
    fam, cfg, model = _build(name, shape)
    x = _images(shape, 4)
    view = fam.data_view(cfg)
    xv = {"uint8": x, "signed": x.float() / 127.5 - 1, "binary": (x > 127).float()}[view]
    if fam.name == "vae":
        out = model(xv)
        assert out.loss.shape == (4,) and torch.isfinite(out.loss).all()
        assert model.decode(out.z).shape == (
            4,
            model.likelihood.param_channels * shape[0],
            *shape[1:],
        )
    elif fam.name == "gan":
        z = torch.randn(4, cfg.z_dim, generator=_gen(2))
        assert model.generator(z).shape == (4, *shape)
        assert model.discriminator(xv).shape == (4,)
    else:
        lp = model.log_prob(x, _gen(2))
        assert lp.shape == (4,) and torch.isfinite(lp).all()
        assert model.dims == math.prod(shape) == fam.latent_dim(cfg, shape)
        assert fam.encode(model, x).shape == (4, math.prod(shape))
    samples = fam.sample(model.eval(), 3, _gen(3))
    assert samples.shape == (3, *shape)
    assert samples.min() >= 0 and samples.max() <= 1


def test_bernoulli_on_rgb_is_refused_in_one_line():
    for name in ("vae-mlp-bernoulli", "vae-conv-bernoulli"):
        with pytest.raises(ConfigError) as err:
            _build(name, (3, 32, 32))
        assert "logistic" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "shape", "extra", "says"),
    [
        ("gan-dcgan", (3, 30, 30), {}, "divisible by 4"),
        ("flow-realnvp", (1, 28, 28), {"scales": 3}, "divisible by 8"),
        ("flow-realnvp", (3, 20, 18), {"scales": 2}, "divisible by 4"),
        ("vae-conv-logistic", (3, 3, 8), {}, "at least 4x4"),
    ],
)
def test_sizes_an_arch_cannot_do_are_refused_in_one_line(name, shape, extra, says):
    with pytest.raises(ConfigError) as err:
        _build(name, shape, **extra)
    assert says in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("shape", [(1, 27, 30), (3, 13, 9)])
def test_conv_vae_mirrors_odd_sizes_exactly(shape):
    fam, cfg, model = _build("vae-conv-logistic", shape)
    out = model(_images(shape, 2))
    assert model.decode(out.z).shape == (2, 2 * shape[0], *shape[1:])


def test_realnvp_takes_more_scales_where_the_size_divides():
    fam, cfg, model = _build("flow-realnvp", (3, 32, 32), scales=3)
    x = _images((3, 32, 32), 2)
    assert torch.equal(model.decode(model.encode(x)), x.float())


def test_mnist_models_keep_their_parameter_counts():
    """The default models on 1x28x28 are the ones every MNIST result was measured with."""
    counts = {
        ("vae", "mlp"): 815_824,
        ("vae", "conv"): 3_236_865,
        ("gan", "mlp"): 2_043_537,
        ("gan", "dcgan"): 917_762,  # the three-stage DCGAN of issue 16, width 32
        ("flow", "mlp"): 18_045_056,
        ("flow", "realnvp"): 4_836_632,
    }
    for (fam_name, arch), n in counts.items():
        fam = get_family(fam_name)
        model = fam.build(fam.config_cls(arch=arch), (1, 28, 28))
        assert sum(p.numel() for p in model.parameters()) == n, (fam_name, arch)


# flows on RGB: exact inverse and log-det ------------------------------------------------------
def _random_flow(name: str, shape: tuple[int, int, int], **extra: Any) -> nn.Module:
    """A float64 flow with every parameter perturbed (zero-initialised layers non-zero)."""
    _, _, model = _build(name, shape, alpha=0.05, **extra)
    model = model.double()
    g = _gen(5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    for m in model.modules():
        if hasattr(m, "initialized"):
            m.initialized.fill_(True)
    return model


@pytest.mark.parametrize(("name", "extra"), [("flow-mlp", {}), ("flow-realnvp", {"scales": 1})])
def test_flow_on_rgb_is_exactly_invertible_with_the_brute_force_logdet(name, extra):
    shape = (3, 4, 4)
    model = _random_flow(name, shape, **extra)
    x = _images(shape, 3, seed=6)
    assert torch.equal(model.decode(model.encode(x)), x.double())  # 8-bit values come back
    xf = x.double()[:1]
    _, logdet = model.transform(xf)  # bin centres: u = 1/2, a smooth map of x
    jac = torch.autograd.functional.jacobian(lambda v: model.transform(v)[0].reshape(-1), xf)
    jac = jac.reshape(math.prod(shape), math.prod(shape))
    sign, logabsdet = torch.linalg.slogdet(jac)
    assert sign != 0
    torch.testing.assert_close(logdet[0], logabsdet, atol=1e-7, rtol=1e-9)


def test_vae_logistic_likelihood_is_per_channel_on_rgb():
    from genzoo.models.vae.likelihoods import DiscretizedLogistic

    lik = DiscretizedLogistic()
    g = _gen(8)
    params = torch.cat(
        [torch.rand(2, 3, 2, 2, generator=g), torch.rand(2, 3, 2, 2, generator=g) * 3 - 5], 1
    ).double()  # (B, 2C, H, W): mu of R, G, B then log s of R, G, B
    x = _images((3, 2, 2), 2, seed=9)
    per_channel = sum(
        lik.log_prob(params[:, [c, 3 + c]], x[:, c : c + 1]) for c in range(3)
    )  # each channel alone is a one-channel logistic
    torch.testing.assert_close(lik.log_prob(params, x), per_channel)
    pmf = lik.log_pmf(params).exp()  # (B, C, H, W, 256)
    torch.testing.assert_close(pmf.sum(-1), torch.ones(2, 3, 2, 2, dtype=torch.float64))
    assert lik.sample(params, _gen(10)).shape == lik.mean(params).shape == (2, 3, 2, 2)


# viz ------------------------------------------------------------------------------------------
def test_panels_of_rgb_files_stay_in_colour(tmp_path):
    from PIL import Image

    from genzoo.viz import image_file_panels, save_grid

    red = torch.zeros(4, 3, 8, 8)
    red[:, 0] = 1.0
    png = save_grid(red, tmp_path / "red.png")
    assert Image.open(png).mode == "RGB"
    out = image_file_panels([[("epoch 1", png)]], tmp_path / "panel.png")
    arr = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert ((arr[..., 0] - arr[..., 1]) > 200).any()  # red pixels, not grey ones


# end to end on a tiny RGB data set -------------------------------------------------------------
E2E = {
    "vae": {"likelihood": "logistic", "arch": "conv", "hidden": 32, "z_dim": 4, "channels": 4},
    "gan": {"arch": "dcgan", "z_dim": 8, "width": 4},
    "flow": {"arch": "realnvp", "channels": 4, "blocks": 1},
}


@pytest.fixture(scope="module")
def rgb_data():
    from genzoo.data import ImageData

    sizes = {"train": 256, "val": 64, "test": 64}
    images = {s: _images((3, 32, 32), n, seed=i) for i, (s, n) in enumerate(sizes.items())}
    labels = {
        s: torch.randint(0, 10, (sizes[s],), generator=_gen(20 + i)) for i, s in enumerate(sizes)
    }
    return ImageData("random-rgb", images, labels)


@pytest.mark.parametrize("family", list(E2E))
def test_every_family_trains_samples_draws_and_evaluates_on_rgb(family, rgb_data, tmp_path):
    from PIL import Image

    from genzoo.api import make_config
    from genzoo.runs import load_run
    from genzoo.runs.evaluate import evaluate_run
    from genzoo.training.loop import fit

    cfg = make_config(family, epochs=1, batch_size=64, sample_epochs=(1,), **E2E[family])
    run_dir = tmp_path / family
    fit(cfg, run_dir, device="cpu", data=rgb_data, quiet=True)
    run = load_run(run_dir, "best", "cpu")
    assert tuple(run.config.shape) == (3, 32, 32)
    samples = run.sample(6, seed=0)
    assert samples.shape == (6, 3, 32, 32) and 0 <= samples.min() and samples.max() <= 1
    grids = sorted((run_dir / "figures").glob("*_epoch001.png"))
    assert grids and all(Image.open(p).mode == "RGB" for p in grids)

    cheap = {"k": 8, "naive_examples": 0} if family == "vae" else {}  # default k: 5000
    result = evaluate_run(run, data=rgb_data, **cheap)
    assert "evaluation network" in result["quality_skipped"]
    assert json.loads((run_dir / "eval.json").read_text())["quality_skipped"]
    if family != "gan":  # likelihoods over every one of the 3 * 32 * 32 dims
        assert math.isfinite(result["bpd"]) and 1.0 < result["bpd"] < 16.0
        assert result["bpd"] == pytest.approx(result["nll_nats"] / (3 * 32 * 32 * math.log(2)))
    if run.family.can_decode:
        from genzoo.runs.interpolate import interpolation_grid

        grid, text = interpolation_grid(run, rows=2, steps=3, candidates=4)
        assert grid.shape == (6, 3, 32, 32) and "not class-controlled" in text


def test_cli_trains_samples_evaluates_and_compares_a_folder_of_rgb_pngs(tmp_path, capsys):
    """``genzoo train --dataset FOLDER`` -> ``sample`` (an RGB PNG) -> ``evaluate`` (bits/dim
    over 3x32x32, quality skipped with the reason) for a flow and a logistic VAE -> ``compare``
    (one row each, with their likelihoods)."""
    from PIL import Image

    from tests.test_data_sources import write_folder

    root = write_folder(tmp_path / "pngs", n=12)
    env = {"GENZOO_CACHE": str(tmp_path / "cache")}
    common = ["--runs-dir", str(tmp_path / "runs"), "--threads", "1", "--quiet"]
    res = run_cli(
        "train", "flow", "--arch", "realnvp", "--channels", "4", "--blocks", "1",
        "--dataset", str(root), "--epochs", "1", "--batch-size", "8", "--sample-epochs", "1",
        "--name", "f", *common, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    run = tmp_path / "runs" / "f"
    out = tmp_path / "s.png"
    res = run_cli("sample", str(run), "-n", "9", "--out", str(out), "--device", "cpu", env=env)
    assert res.returncode == 0, res.stderr
    assert Image.open(out).mode == "RGB"
    res = run_cli("evaluate", str(run), "--dequant-samples", "1", "--threads", "1", env=env)
    assert res.returncode == 0, res.stderr
    result = json.loads((run / "eval.json").read_text())
    assert "evaluation network" in result["quality_skipped"]
    assert result["bpd"] == pytest.approx(result["nll_nats"] / (3 * 32 * 32 * math.log(2)))

    from genzoo.cli.main import main  # in this process: three fewer interpreter starts

    vae = tmp_path / "runs" / "v"
    assert main([
        "train", "vae", "--likelihood", "logistic", "--hidden", "32", "--z-dim", "4",
        "--dataset", str(root), "--epochs", "1", "--batch-size", "8", "--sample-epochs", "1",
        "--name", "v", *common,
    ]) == 0  # fmt: skip
    assert main(["evaluate", str(vae), "--k", "8", "--naive-examples", "0", "--threads", "1"]) == 0
    capsys.readouterr()
    assert main(["compare", str(run), str(vae)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    table = [[c.strip() for c in line.split("|")[1:-1]] for line in lines]
    header, rows = table[0], table[2:]
    assert [(r[0], r[1]) for r in rows] == [("f", "flow"), ("v", "vae")]  # no floor: no quality
    for row, folder in zip(rows, (run, vae), strict=True):
        ev = json.loads((folder / "eval.json").read_text())
        assert row[header.index("likelihood data")] == "8-bit"
        assert float(row[header.index("bits/dim")]) == pytest.approx(ev["bpd"], abs=1e-4)
        assert float(row[header.index("NLL nats")]) == pytest.approx(ev["nll_nats"], abs=0.01)
