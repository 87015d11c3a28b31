"""Config declarations: every field has a help and bounds, checked in one place and shown by
``--help``; values that break the maths are refused with one line."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields

import pytest

from genzoo.cli.main import build_parser, main
from genzoo.config import DataConfig, TrainConfig, check_fields, field_help
from genzoo.errors import ConfigError
from genzoo.family import family_names, get_family
from genzoo.models.flow import FlowConfig
from genzoo.models.gan import GANConfig
from genzoo.models.vae import VAEConfig

CONFIGS = [TrainConfig, DataConfig, VAEConfig, GANConfig, FlowConfig]
ONLY_DEFAULT = re.compile(r"^\s*\(default: [^)]*\)\s*$")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_shipped_families_use_the_checked_configs():
    # other tests may register toy families, so only the shipped ones are checked
    shipped = {"vae": VAEConfig, "gan": GANConfig, "flow": FlowConfig}
    assert set(shipped) <= set(family_names())
    assert {n: get_family(n).config_cls for n in shipped} == shipped


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_config_field_has_a_one_line_help(cls):
    for f in fields(cls):
        text = field_help(f)
        assert text.strip() and "\n" not in text, f"{cls.__name__}.{f.name} has no help"


@pytest.mark.parametrize("family", ["vae", "gan", "flow"])
def test_every_train_flag_has_a_description(family):
    parser = _subparsers(_subparsers(build_parser())["train"])[family]
    for action in parser._actions:
        assert action.help and not ONLY_DEFAULT.match(action.help), action.option_strings


def test_every_resume_flag_has_a_description():
    for action in _subparsers(build_parser())["resume"]._actions:
        assert action.help and not ONLY_DEFAULT.match(action.help), action.option_strings


def test_flow_alpha_must_be_in_the_open_interval():
    for alpha in (0, 0.0, 0.5, -1e-3):
        with pytest.raises(ConfigError, match=r"alpha must lie in \(0, 0.5\)"):
            FlowConfig(alpha=alpha)
    with pytest.raises(ConfigError) as exc:
        FlowConfig(alpha=0)
    assert str(exc.value) == "alpha must lie in (0, 0.5), got 0"
    FlowConfig(alpha=1e-6)


def test_train_flow_alpha_0_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(["train", "flow", "--alpha", "0"]))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "alpha must lie in (0, 0.5), got 0" in err[0], err


@pytest.mark.parametrize(
    "cls, changes, needle",
    [
        (TrainConfig, {"batch_size": 0}, "batch-size must be >= 1, got 0"),
        (TrainConfig, {"eval_batch_size": 0}, "eval-batch-size must be >= 1"),
        (TrainConfig, {"lr": 0.0}, "lr must be > 0, got 0"),
        (TrainConfig, {"betas": (0.9, 1.0)}, "betas must lie in [0, 1), got 1"),
        (TrainConfig, {"betas": (-0.1, 0.9)}, "betas must lie in [0, 1)"),
        (TrainConfig, {"grad_clip": 0.0}, "grad-clip must be > 0"),
        (TrainConfig, {"epochs": -1}, "epochs must be >= 0"),
        (TrainConfig, {"sample_epochs": (0, -2)}, "sample-epochs must be >= 0, got -2"),
        (TrainConfig, {"limit_train": 0}, "limit-train must be >= 1"),
        (TrainConfig, {"lr_schedule": "step"}, "lr-schedule must be one of constant, cosine"),
        (TrainConfig, {"precision": "fp16"}, "precision must be one of fp32, bf16"),
        (VAEConfig, {"z_dim": 0}, "z-dim must be >= 1"),
        (VAEConfig, {"arch": "transformer"}, "arch must be one of mlp, conv"),
        (VAEConfig, {"likelihood": "gauss"}, "likelihood must be one of bernoulli, logistic"),
        (GANConfig, {"ema_decay": 1.0}, "ema-decay must lie in (0, 1), got 1"),
        (GANConfig, {"dropout": 1.0}, "dropout must lie in [0, 1)"),
        (GANConfig, {"leak": -0.1}, "leak must lie in [0, 1)"),
        (GANConfig, {"g_loss": "wasserstein"}, "g-loss must be one of"),
        (FlowConfig, {"scales": 5}, "scales must lie in [1, 4], got 5"),
        (FlowConfig, {"blocks": 0}, "blocks must be >= 1"),
    ],
)
def test_values_that_break_the_maths_are_refused(cls, changes, needle):
    with pytest.raises(ConfigError) as exc:
        cls(**changes)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_optional_fields_accept_none_and_defaults_are_valid():
    for cls in CONFIGS:
        check_fields(cls())
    assert TrainConfig(grad_clip=None, limit_train=None).grad_clip is None
    assert GANConfig(ema_decay=0.999).ema_decay == 0.999
