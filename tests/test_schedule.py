"""Learning-rate schedules: values of the pure function and what the loop actually applies."""

from __future__ import annotations

import math

import pytest

from genzoo.api import make_config
from genzoo.errors import ConfigError
from genzoo.training.loop import fit
from genzoo.training.schedule import lr_factor


def test_cosine_runs_from_one_to_zero_through_a_half():
    total = 10
    values = [lr_factor("cosine", s, total) for s in range(total + 1)]
    assert values[0] == 1.0 and values[-1] == pytest.approx(0.0, abs=1e-15)
    assert values[5] == pytest.approx(0.5)
    assert all(a > b for a, b in zip(values, values[1:], strict=False))  # strictly decreasing
    assert lr_factor("constant", 7, total) == 1.0
    with pytest.raises(ValueError, match="unknown lr schedule"):
        lr_factor("step", 1, total)


def test_the_loop_applies_the_schedule_to_every_optimizer(tmp_path):
    kw = dict(epochs=2, limit_train=256, limit_eval=64, z_dim=8, log_every=0, batch_size=64)
    cosine = fit(make_config("gan", lr=2e-4, lr_schedule="cosine", **kw), quiet=True)
    total = 2 * 256 // 64
    for opt in cosine.step.optimizers.values():  # D and G both follow it
        (group,) = opt.param_groups
        assert group["initial_lr"] == 2e-4
        assert group["lr"] == pytest.approx(2e-4 * lr_factor("cosine", total - 1, total))
        assert group["lr"] == pytest.approx(2e-4 * (1 + math.cos(math.pi * 7 / 8)) / 2)
    constant = fit(make_config("gan", lr=2e-4, **kw), quiet=True)
    for opt in constant.step.optimizers.values():
        assert opt.param_groups[0]["lr"] == 2e-4 and "initial_lr" not in opt.param_groups[0]


def test_unknown_schedule_is_a_config_error():
    with pytest.raises(ConfigError):
        make_config("vae", lr_schedule="linear")
