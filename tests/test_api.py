"""The Python API of the README: train, load_run, Run.sample/evaluate and compare, on tiny runs.

The VAE is trained by executing the README's "Python API" example itself (in a temporary
folder), so the documented code is known to run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import genzoo
from genzoo.errors import ConfigError
from genzoo.evaluation.table import COLUMNS
from tests.conftest import ROOT


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def readme(tmp_path_factory, data_dir):
    """The namespace left by the README example, run in a fresh folder."""
    import os

    folder = tmp_path_factory.mktemp("api")
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        namespace: dict = {}
        exec(compile(_readme_example(), "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    namespace["folder"] = folder
    return namespace


@pytest.fixture(scope="module")
def gan(tmp_path_factory, data_dir):
    """A one-epoch GAN trained through ``genzoo.train``, evaluated on 200 samples."""
    path = tmp_path_factory.mktemp("api") / "gan"
    run = genzoo.train("gan", path, epochs=1, limit_train=300, limit_eval=200, threads=1)
    run.evaluate(samples=200)
    return run


def test_train_returns_the_run_and_load_run_gives_the_same(readme):
    run = readme["run"]
    assert isinstance(run, genzoo.Run) and run.family.name == "vae"
    assert run.config.model.hidden == 64 and run.config.train.limit_train == 300
    again = genzoo.load_run(readme["folder"] / "runs" / "api-vae")
    for a, b in zip(run.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_train_without_a_folder_returns_the_fit_result(data_dir):
    from genzoo.training.loop import FitResult

    result = genzoo.train("vae", epochs=1, limit_train=64, limit_eval=64, hidden=16, threads=1)
    assert isinstance(result, FitResult) and {r["epoch"] for r in result.history} == {1}


@pytest.mark.parametrize("which", ["vae", "gan"])
def test_samples_are_images_and_seeded(which, readme, gan):
    run = readme["run"] if which == "vae" else gan
    x = run.sample(8, generator=torch.Generator().manual_seed(3))
    assert x.shape == (8, 1, 28, 28) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    y = run.sample(8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(x, y)
    z = run.sample(8, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(x, z)
    if which == "vae":
        assert readme["x"].shape == (16, 1, 28, 28)


def test_undeclared_option_is_a_config_error_naming_the_family(gan, readme):
    with pytest.raises(ConfigError, match=r"gan family has no sample option --temperature"):
        gan.sample(4, temperature=0.7)
    with pytest.raises(ConfigError, match=r"vae family has no evaluate option --dequant-samples"):
        readme["run"].evaluate(samples=200, dequant_samples=2)


def test_evaluate_returns_and_writes_eval_json(readme, gan):
    metrics = readme["metrics"]
    written = json.loads((readme["run"].path / "eval.json").read_text())
    assert written["fid"] == metrics["fid"] and written["nll_nats"] == metrics["nll_nats"]
    assert metrics["quality_protocol"]["samples"] == 200 and metrics["family"] == "vae"
    gan_eval = json.loads((gan.path / "eval.json").read_text())
    assert gan_eval["family"] == "gan" and gan_eval["fid"] > 0


def test_compare_gives_one_row_per_run_and_the_floors(readme, gan, tmp_path):
    keys = {k for k, _, _ in COLUMNS} | {"kid_std"}
    rows = readme["rows"]
    assert [r["family"] for r in rows] == ["vae", "real data"]  # binarised floor only
    assert rows[1]["name"] == "real binarised (train vs test)"
    unevaluated = tmp_path / "not-evaluated"
    unevaluated.mkdir()
    with pytest.warns(UserWarning, match="not evaluated"):
        rows = genzoo.compare([readme["run"], gan.path, unevaluated])
    assert [r["name"] for r in rows[:2]] == ["api-vae", "gan"]
    assert [r["family"] for r in rows] == ["vae", "gan", "real data", "real data"]
    assert {r["name"] for r in rows[2:]} == {
        "real binarised (train vs test)",
        "real 8-bit (train vs test)",
    }
    for row in rows:
        assert keys <= set(row), keys - set(row)
    assert all(r["fid"] > 0 for r in rows[:2])
    assert len(genzoo.compare([gan], floor=False)) == 1


def test_family_names_and_configs():
    assert set(genzoo.family_names()) >= {"vae", "gan", "flow"}
    assert genzoo.get_family("flow").name == "flow"
    cfg = genzoo.make_config("vae", z_dim=2, epochs=3)
    assert (cfg.model.z_dim, cfg.train.epochs) == (2, 3)
    with pytest.raises(ConfigError):
        genzoo.train(cfg, epochs=1)
