"""A long evaluation that is stopped continues where it stopped: the VAE's importance-sampled
NLL (over an hour at k = 5000 on a CPU) keeps its partial results, and the resumed result
equals an uninterrupted one."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
import torch

from genzoo.errors import GenzooWarning
from genzoo.models.vae import evaluate as vae_evaluate
from genzoo.models.vae.config import VAEConfig
from genzoo.models.vae.model import VAE

# seconds differ between an uninterrupted and a resumed evaluation; nothing else may
TIMES = {"nll_time_s", "naive_time_s", "eval_time_s", "eval_time_before_s"}


def _measured(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in TIMES}


class _Memory:
    """An ``EvalPartial`` in memory that stops the evaluation (Ctrl-C) after ``stop_after``
    saves."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.state: dict[str, Any] | None = None
        self.saves, self.stop_after = 0, stop_after

    def load(self) -> dict[str, Any] | None:
        return self.state

    def save(self, state: dict[str, Any]) -> None:
        self.state, self.saves = state, self.saves + 1
        if self.saves == self.stop_after:
            raise KeyboardInterrupt


@pytest.fixture
def every_batch(monkeypatch):
    monkeypatch.setattr(vae_evaluate, "SAVE_EVERY_S", 0.0)  # keep the state after each batch


def test_a_stopped_vae_evaluation_continues_to_the_uninterrupted_result(mnist, every_batch):
    torch.manual_seed(3)
    model = VAE(VAEConfig(hidden=16, z_dim=3))  # random weights: not an identity map
    data = mnist.subset({"test": 250})  # batches of 100, 100 and 50
    opts = {"k": 8, "seed": 5, "naive_examples": 150}  # the naive estimate spans two batches
    device = torch.device("cpu")
    whole = vae_evaluate.evaluate_vae(model, None, data, "test", device, opts)

    store = _Memory(stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        vae_evaluate.evaluate_vae(model, None, data, "test", device, opts, store)
    assert store.state is not None and store.state["done"] == 200
    store.stop_after = None
    resumed = vae_evaluate.evaluate_vae(model, None, data, "test", device, opts, store)
    assert store.saves == 3  # only the last batch was computed again
    assert _measured(resumed) == _measured(whole)
    assert resumed["examples"] == 250 and resumed["naive_examples"] == 150


@pytest.fixture(scope="module")
def run_250(tmp_path_factory, mnist):
    """A one-epoch VAE whose evaluation covers 250 test images (three batches)."""
    from genzoo.api import train

    run = tmp_path_factory.mktemp("runs") / "vae-250"
    train("vae", run, threads=1, epochs=1, limit_train=300, limit_eval=250, hidden=16, z_dim=3)
    return run


def test_evaluate_run_resumes_from_the_run_folder_and_cleans_up(run_250, every_batch, monkeypatch):
    from genzoo.runs import evaluate as run_evaluate
    from genzoo.runs.evaluate import evaluate_run

    whole = evaluate_run(run_250, quality=False, k=8)
    partial = run_250 / ".eval.json.partial.pt"
    assert not partial.exists()

    save = run_evaluate._PartialFile.save
    calls = []

    def save_then_stop(self, state):
        save(self, state)
        calls.append(state["done"])
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(run_evaluate._PartialFile, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        evaluate_run(run_250, quality=False, k=8)
    assert partial.is_file() and json.loads((run_250 / "eval.json").read_text()) == whole

    with warnings.catch_warnings(record=True) as seen:  # other options: starts over
        warnings.simplefilter("always")
        evaluate_run(run_250, quality=False, k=4)
    assert not any("continuing" in str(w.message) for w in seen)
    assert not partial.exists()

    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        evaluate_run(run_250, quality=False, k=8)
    monkeypatch.setattr(run_evaluate._PartialFile, "save", save)
    with pytest.warns(GenzooWarning, match="continuing the evaluation"):
        resumed = evaluate_run(run_250, quality=False, k=8)
    assert _measured(resumed) == _measured(whole)
    assert not partial.exists()
    assert resumed["eval_time_s"] > resumed["eval_time_before_s"] > 0  # the stopped part counts


def test_a_stopped_evaluate_says_the_same_command_continues(run_250, monkeypatch, capsys):
    from genzoo.cli.main import main
    from genzoo.runs import evaluate as run_evaluate

    def stop(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_evaluate, "evaluate_run", stop)
    assert main(["evaluate", str(run_250), "--threads", "1"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "genzoo: interrupted; the run's files are intact; the same command continues a VAE's "
        "NLL where it stopped"
    )
