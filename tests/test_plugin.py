"""A family from outside genzoo: a toy package written into tmp_path and installed as a plug-in
through the ``genzoo.families`` entry point only (a ``.dist-info`` beside it on PYTHONPATH, no
pip, no edit to genzoo), then driven through the CLI alone: train, sample, evaluate, compare
and reproduce with a preset file. What docs/adding-a-family.md promises."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

TOY_FAMILY = '''
"""A toy family: independent Bernoulli pixels, p(x) = prod_i sigmoid(logit_i)^x_i ..."""

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.config import TrainConfig
from genzoo.family import CurveFigure, Family, ImageFigure, Option, Series
from genzoo.training.step import Step


@dataclass(frozen=True)
class ToyConfig:
    init_logit: float = 0.0  # becomes --init-logit


class PixelBernoulli(nn.Module):
    def __init__(self, cfg: ToyConfig, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.full((1, *shape), cfg.init_logit))

    def nll(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) in {0, 1} -> (B,)
        bce = nn.functional.binary_cross_entropy_with_logits
        return bce(self.logits.expand_as(x), x, reduction="none").flatten(1).sum(1)


class ToyStep(Step):
    def __init__(self, model, cfg, train):
        super().__init__(model, cfg, train)
        self.optimizers = {"adam": self.adam(model.parameters())}

    def train_step(self, batch, generator):
        loss = self.model.nll(batch.x)
        self.minimize(loss.mean(), self.optimizers["adam"])
        return {"loss": loss.detach()}

    @torch.no_grad()
    def eval_step(self, batch, generator):
        return {"loss": self.model.nll(batch.x)}


class ToyFamily(Family):
    name = "toy"
    description = "independent Bernoulli pixels (a plug-in test family)"
    config_cls = ToyConfig
    train_defaults = TrainConfig(epochs=2, batch_size=50, lr=0.05, sample_epochs=(0, 2))
    sample_options = (Option("sharpness", float, 1.0, "multiplies the logits", gt=0),)
    figures = (
        ImageFigure("samples", "TOY-SAMPLES-CAPTION: pixels drawn independently.", nrow=4),
        CurveFigure(
            "nll", "TOY-NLL-CAPTION: negative log-likelihood per epoch.",
            (Series("train", "loss", "train"), Series("val", "loss", "val")), ylabel="nats",
        ),
    )

    def build(self, cfg, shape):
        return PixelBernoulli(cfg, shape)

    def make_step(self, model, cfg, train):
        return ToyStep(model, cfg, train)

    def data_view(self, cfg):
        return "binary"

    def sample(self, model, n, generator, sharpness=1.0):
        p = torch.sigmoid(sharpness * model.logits).expand(n, *model.logits.shape[1:])
        return torch.bernoulli(p, generator=generator)

    def snapshots(self, model, cfg, val_x):
        return {"samples": self.sample(model, 16, torch.Generator().manual_seed(0))}
'''


def _git_status() -> str | None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    res = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    return res.stdout if res.returncode == 0 else None


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> dict:
    """The toy package and its dist-info on a PYTHONPATH; the env for ``run_cli``."""
    site = tmp_path_factory.mktemp("site")
    (site / "genzoo_toy").mkdir()
    (site / "genzoo_toy" / "__init__.py").write_text("")
    (site / "genzoo_toy" / "family.py").write_text(textwrap.dedent(TOY_FAMILY))
    info = site / "genzoo_toy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: genzoo-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[genzoo.families]\ntoy = genzoo_toy.family:ToyFamily\n")
    env = {"PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    return {"site": site, "env": env, "status": _git_status()}


@pytest.fixture(scope="module")
def toy_run(plugin, tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    res = run_cli(
        "train", "toy", "--epochs", "2", "--limit-train", "200", "--limit-eval", "100",
        "--runs-dir", str(runs), "--name", "toy", "--quiet", "--threads", "1", env=plugin["env"],
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    return runs / "toy"


def test_entry_point_is_found_without_pip(plugin):
    code = (
        "from importlib.metadata import entry_points;"
        "print([e.value for e in entry_points(group='genzoo.families') if e.name == 'toy'])"
    )
    env = {**os.environ, **plugin["env"]}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.stdout.strip() == "['genzoo_toy.family:ToyFamily']", res.stderr
    listed = run_cli("train", "--help", env=plugin["env"])
    assert "toy" in listed.stdout


def test_train_draws_the_declared_figures(toy_run):
    figures = toy_run / "figures"
    for name in ("samples.png", "samples_epoch000.png", "samples_epoch002.png", "nll.png"):
        assert (figures / name).is_file(), name
    records = [json.loads(line) for line in (toy_run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["split"]) for r in records] == [(1, "train"), (1, "val"), (2, "train"),
                                                          (2, "val")]  # fmt: skip


def test_sample_takes_the_declared_option_and_refuses_others(plugin, toy_run, tmp_path):
    out = tmp_path / "s.png"
    res = run_cli("sample", str(toy_run), "-n", "8", "--sharpness", "2", "--out", str(out),
                  env=plugin["env"])  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert out.is_file() and out.stat().st_size > 100
    res = run_cli("sample", str(toy_run), "--temperature", "0.5", "--out", str(out),
                  env=plugin["env"])  # fmt: skip
    assert res.returncode == 2 and "toy" in res.stderr and "--temperature" in res.stderr


def test_evaluate_and_compare(plugin, toy_run):
    res = run_cli("evaluate", str(toy_run), "--samples", "64", "--threads", "1", env=plugin["env"])
    assert res.returncode == 0, res.stderr[-2000:]
    record = json.loads((toy_run / "eval.json").read_text())
    assert record["family"] == "toy" and record.get("fid") is not None
    res = run_cli("compare", str(toy_run), "--no-floor", env=plugin["env"])
    assert res.returncode == 0, res.stderr[-2000:]
    assert "toy" in res.stdout


def test_reproduce_with_a_preset_file(plugin, tmp_path):
    preset = {
        "name": "toy-report",
        "description": "one plug-in stage",
        "stages": [
            {
                "key": "toy-1", "family": "toy", "label": "Toy pixels",
                "overrides": {"epochs": 2, "sample_epochs": [0, 1, 2]},
                "figures": ["nll", "samples"],
            }
        ],
        "quality_samples": 64,
        "kl_mc_samples": 1000,
        "data_limits": {"limit_train": 200, "limit_eval": 100},
    }  # fmt: skip
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(preset))
    out = tmp_path / "report"
    res = run_cli("reproduce", "--preset", str(path), "--out", str(out), "--quiet",
                  "--threads", "1", env=plugin["env"], timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    md = (out / "report.md").read_text()
    assert "TOY-SAMPLES-CAPTION" in md and "TOY-NLL-CAPTION" in md
    assert "## 1 Toy pixels" in md and "Figure 2." in md and "Figure 3." not in md
    assert "Comparison across families" in md and "| toy-1 |" in md
    for family_section in ("Variational", "adversarial", "Normalizing", "KL divergence"):
        assert family_section not in md
    # an undeclared figure name is refused before anything is trained
    preset["stages"][0]["figures"] = ["manifold"]
    path.write_text(json.dumps(preset))
    res = run_cli("reproduce", "--preset", str(path), "--out", str(tmp_path / "no"),
                  env=plugin["env"])  # fmt: skip
    assert res.returncode == 2 and "declares no figure 'manifold'" in res.stderr
    assert not (tmp_path / "no" / "runs").exists()


def test_nothing_outside_tmp_path_was_written(plugin, toy_run):
    # runs last in this module (pytest keeps file order): the checkout is as it was
    if plugin["status"] is None:
        pytest.skip("not a git checkout")
    assert _git_status() == plugin["status"]
