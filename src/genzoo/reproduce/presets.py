"""Presets of ``genzoo reproduce``: which runs to train, how long, and how to evaluate them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genzoo.errors import ConfigError

__all__ = ["Stage", "Preset", "PRESETS", "get_preset"]


@dataclass(frozen=True)
class Stage:
    """One run of the report: a family with its overrides and evaluation options."""

    key: str  # run folder name under <out>/runs/
    family: str
    label: str
    overrides: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)  # k, samples, dequant_samples


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    stages: tuple[Stage, ...]
    quality_samples: int = 10_000  # samples per model for FID/KID/precision/recall/coverage
    interpolation_rows: int = 6
    kl_mc_samples: int = 1_000_000  # Monte Carlo draws for the section 1.5 check
    data_limits: dict[str, int] = field(default_factory=dict)  # limit_train / limit_eval


def _report_stages(
    vae_epochs: int,
    gan_epochs: int,
    flow_epochs: int,
    k: int,
    sample_epochs: dict[str, tuple[int, ...]],
    extra: dict[str, dict[str, Any]] | None = None,
) -> tuple[Stage, ...]:
    extra = extra or {}
    return (
        Stage(
            "vae-z20",
            "vae",
            "VAE, z=20",
            {
                "z_dim": 20,
                "epochs": vae_epochs,
                "sample_epochs": sample_epochs["vae"],
                **extra.get("vae", {}),
            },
            {"k": k},
        ),
        Stage(
            "vae-z2",
            "vae",
            "VAE, z=2",
            {
                "z_dim": 2,
                "epochs": vae_epochs,
                "sample_epochs": sample_epochs["vae-z2"],
                **extra.get("vae", {}),
            },
            {"k": k},
        ),
        Stage(
            "gan-mlp",
            "gan",
            "GAN (MLP)",
            {
                "arch": "mlp",
                "epochs": gan_epochs,
                "sample_epochs": sample_epochs["gan"],
                **extra.get("gan", {}),
            },
        ),
        Stage(
            "flow-mlp",
            "flow",
            "Flow (MLP coupling)",
            {
                "arch": "mlp",
                "epochs": flow_epochs,
                "sample_epochs": sample_epochs["flow"],
                **extra.get("flow", {}),
            },
            {"dequant_samples": 1 if flow_epochs < 10 else 4},
        ),
    )


def _spread(last: int, n: int = 5) -> tuple[int, ...]:
    """``n`` epochs from 0 to ``last`` (the report's figures show 0, ..., last)."""
    return tuple(sorted({round(i * last / (n - 1)) for i in range(n)}))


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny",
        "seconds: a few hundred images, 2 epochs, tiny networks (tests only; numbers mean nothing)",
        _report_stages(
            2,
            2,
            2,
            k=8,
            sample_epochs={"vae": (0, 2), "vae-z2": (0, 1, 2), "gan": (0, 2), "flow": (0, 2)},
            extra={
                "vae": {"hidden": 32, "batch_size": 50},
                "gan": {"batch_size": 50, "log_every": 2},
                "flow": {"hidden": 32, "pairs": 1, "batch_size": 50},
            },
        ),
        quality_samples=200,
        interpolation_rows=2,
        kl_mc_samples=10_000,
        data_limits={"limit_train": 300, "limit_eval": 200},
    ),
    "quick": Preset(
        "quick",
        "under 15 minutes on a 2-core CPU: fewer epochs and samples than the report",
        _report_stages(
            10,
            15,
            3,
            k=500,
            sample_epochs={
                "vae": _spread(10),
                "vae-z2": (0, 5, 10),
                "gan": (0, 1, 5, 15),
                "flow": (0, 1, 3),
            },
        ),
        quality_samples=5000,
    ),
    "paper": Preset(
        "paper",
        "the report's epochs: VAE 40, GAN 200, flow 40; NLL with k=5000",
        _report_stages(
            40,
            200,
            40,
            k=5000,
            sample_epochs={
                "vae": (0, 10, 20, 30, 40),
                "vae-z2": (0, 20, 40),
                "gan": (0, 2, 8, 100, 200),
                "flow": (0, 1, 13, 26, 40),
            },
        ),
    ),
}

PRESETS["best"] = Preset(
    "best",
    "the paper preset plus a conv VAE, a DCGAN and a multi-scale RealNVP",
    PRESETS["paper"].stages
    + (
        Stage("vae-conv", "vae", "VAE (conv), z=32", {"arch": "conv", "z_dim": 32}, {"k": 5000}),
        Stage("gan-dcgan", "gan", "DCGAN", {"arch": "dcgan", "epochs": 40}),
        Stage(
            "flow-realnvp",
            "flow",
            "RealNVP (multi-scale)",
            # a run of this setting reached test 1.142 bits/dim (cosine from its epoch 5);
            # about 270 s per epoch on 2 CPU threads, so about 55 min
            {
                "arch": "realnvp",
                "channels": 32,
                "blocks": 2,
                "batch_size": 64,
                "epochs": 12,
                "lr_schedule": "cosine",
            },
        ),
    ),
)


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
