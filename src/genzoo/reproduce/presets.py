"""Presets of ``genzoo reproduce``: which runs to train, how long, how to evaluate them, and
which of each family's declared figures the report shows. Built-in presets by name, or a
preset file (JSON, ``preset_file.load_preset``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genzoo.errors import ConfigError

__all__ = [
    "Stage",
    "Section",
    "Preset",
    "PRESETS",
    "COURSE_SECTIONS",
    "EXTRAS",
    "get_preset",
    "check_preset",
    "on_dataset",
]

EXTRAS = ("estimators", "kl", "interpolation")
"""The report's own blocks a ``Section`` may end with: ``estimators`` (the naive vs importance
sampled log p(x) table of the first of its stages whose eval.json has the naive estimate),
``kl`` (the KL examples), ``interpolation`` (latent interpolations of its first stage whose
family decodes latents)."""


@dataclass(frozen=True)
class Stage:
    """One run of the report: a family with its overrides, evaluation options and the names of
    the family's declared figures the report shows (in this order; consecutive image figures
    share one report figure, a row each)."""

    key: str  # run folder name under <out>/runs/
    family: str
    label: str
    overrides: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)  # the family's evaluate options
    # evaluate options that differ for its kept epochs (the time-to-quality figure), e.g. a
    # smaller VAE k: a point per kept epoch at the final record's k can cost more than training
    timeline_evaluate: dict[str, Any] = field(default_factory=dict)
    sample: dict[str, Any] = field(default_factory=dict)  # its sample options, quality samples
    figures: tuple[str, ...] = ()
    reference: dict[str, float] = field(default_factory=dict)  # metric -> the course's value


@dataclass(frozen=True)
class Section:
    """A numbered section of the report: the figures of its stages that are in the preset (it is
    left out when none is), then its ``extras`` (see ``EXTRAS``). Stages in no section get a
    section of their own, titled by their label."""

    title: str
    stages: tuple[str, ...]
    extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    stages: tuple[Stage, ...]
    quality_samples: int = 10_000  # samples per model for FID/KID/precision/recall/coverage
    # checkpoints a stage keeps (its ``keep_epochs``) are evaluated with these many samples and
    # test images for the quality-against-training-time figure
    timeline_samples: int = 2000
    timeline_images: int = 1000
    interpolation_rows: int = 6
    kl_mc_samples: int = 1_000_000  # Monte Carlo draws for the KL examples
    data_limits: dict[str, int] = field(default_factory=dict)  # limit_train / limit_eval
    sections: tuple[Section, ...] = ()


COURSE_SECTIONS = (
    Section("Variational autoencoders", ("vae-z20", "vae-z2"), ("estimators", "kl")),
    Section("Generative adversarial networks", ("gan-mlp",), ("interpolation",)),
    Section("Normalizing flows", ("flow-mlp",)),
)


def _report_stages(
    vae_epochs: int,
    gan_epochs: int,
    flow_epochs: int,
    k: int,
    sample_epochs: dict[str, tuple[int, ...]],
    extra: dict[str, dict[str, Any]] | None = None,
    timeline_k: int | None = None,
) -> tuple[Stage, ...]:
    """The course report's four runs; ``extra``: overrides by family (vae, gan, flow);
    ``timeline_k``: the VAEs' k at their kept epochs (None: ``k``)."""
    extra = extra or {}

    def over(family: str, epochs: int, figures_of: str, **settings: Any) -> dict[str, Any]:
        return {
            **settings,
            "epochs": epochs,
            "sample_epochs": sample_epochs[figures_of],
            **extra.get(family, {}),
        }

    dequant = {"dequant_samples": 1 if flow_epochs < 10 else 4}
    timeline = {"k": timeline_k} if timeline_k else {}
    return (
        Stage(
            "vae-z20", "vae", "VAE, z=20", over("vae", vae_epochs, "vae", z_dim=20), {"k": k},
            timeline_evaluate=timeline, figures=("curves", "samples", "means"),
            reference={"loss": 101.7},
        ),
        Stage(
            "vae-z2", "vae", "VAE, z=2", over("vae", vae_epochs, "vae-z2", z_dim=2), {"k": k},
            timeline_evaluate=timeline, figures=("curves", "manifold", "recon"),
            reference={"loss": 151.2},
        ),
        Stage(
            "gan-mlp", "gan", "GAN (MLP)", over("gan", gan_epochs, "gan", arch="mlp"),
            figures=("samples", "losses"),
        ),
        Stage(
            "flow-mlp", "flow", "Flow (MLP coupling)",
            over("flow", flow_epochs, "flow", arch="mlp"), dequant,
            figures=("bpd", "samples_T1"), reference={"bpd": 1.82},
        ),
    )  # fmt: skip


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
            timeline_k=4,
            sample_epochs={"vae": (0, 2), "vae-z2": (0, 1, 2), "gan": (0, 2), "flow": (0, 2)},
            extra={
                "vae": {"hidden": 32, "batch_size": 50, "keep_epochs": (1, 2)},
                "gan": {"batch_size": 50, "log_every": 2, "keep_epochs": (0, 2)},
                "flow": {"hidden": 32, "pairs": 1, "batch_size": 50, "keep_epochs": (1, 2)},
            },
        ),
        quality_samples=200,
        timeline_samples=100,
        timeline_images=100,
        interpolation_rows=2,
        kl_mc_samples=10_000,
        data_limits={"limit_train": 300, "limit_eval": 200},
        sections=COURSE_SECTIONS,
    ),
    "quick": Preset(
        "quick",
        "under 15 minutes on a 2-core CPU: fewer epochs and samples than the report",
        # GAN 10 and flow 2 epochs (were 15 and 3). Measured on Fashion-MNIST at --threads 2
        # (2-core AMD EPYC): 6m43s on 2026-12-02 (VAEs 1m21s + 1m01s, GAN 2m15s, flow 1m55s);
        # the old epochs took 19m58s on a day when the same machine ran 2-3x slower
        _report_stages(
            10,
            10,
            2,
            k=500,
            sample_epochs={
                "vae": _spread(10),
                "vae-z2": (0, 5, 10),
                "gan": (0, 1, 5, 10),
                "flow": (0, 1, 2),
            },
        ),
        quality_samples=5000,
        sections=COURSE_SECTIONS,
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
        sections=COURSE_SECTIONS,
    ),
}


def _keeping(stages: tuple[Stage, ...], key: str, epochs: tuple[int, ...]) -> tuple[Stage, ...]:
    """``stages`` with stage ``key`` keeping the checkpoints of ``epochs`` (its points in the
    report's time-to-quality figure); keeping checkpoints does not change the training."""
    return tuple(
        dataclasses.replace(s, overrides={**s.overrides, "keep_epochs": epochs})
        if s.key == key
        else s
        for s in stages
    )


PRESETS["best"] = Preset(
    "best",
    "the paper preset plus a conv VAE, a DCGAN, a multi-scale RealNVP and a DDPM",
    # the MLP GAN keeps epochs so that the figure compares it with the DCGAN at equal
    # training seconds
    _keeping(PRESETS["paper"].stages, "gan-mlp", (2, 8, 25, 50, 100, 200))
    + (
        Stage(
            "vae-conv",
            "vae",
            "VAE (residual conv), z=32",
            # measured on 2026-12-03 on 2 free cores: 120 epochs in 2,664 s of training to the
            # best epoch (about 21 s each), val -ELBO 88.08, test NLL 83.27 nats with k=500 on
            # all 10,000 test images (583 s), 82.21 with k=5000 on the first 1,000 (707 s,
            # before channels-last, which made k=500 1.5x faster), so k=5000 on all of them
            # takes about 80 min. The plain conv arch gave 89.07 (k=500) after 70 epochs
            {
                "arch": "resconv",
                "z_dim": 32,
                "kl_warmup": 5.0,
                "epochs": 120,
                "lr_schedule": "cosine",
                "sample_epochs": (0, 10, 40, 120),
                "keep_epochs": (10, 30, 60, 120),
            },
            {"k": 5000},
            # k=5000 on 1,000 images took 707 s per kept epoch; k=500 took 88 s and read 0.32
            # nats higher on the final model (82.53 vs 82.21), which a curve can afford
            timeline_evaluate={"k": 500},
            figures=("curves", "samples", "means", "recon"),
        ),
        Stage(
            "gan-dcgan",
            "gan",
            "DCGAN",
            # the family's dcgan defaults (width 32, BCE, BatchNorm in D's later layers, Adam
            # lr 2e-4 with beta1 0.5, 60 epochs): 2,184 s on 2 free cores and FID 14.6
            # (10,000 samples) on 2026-12-03; 1-epoch trials of spectral norm + hinge and of
            # an EMA generator did not beat them
            {"arch": "dcgan", "keep_epochs": (1, 4, 12, 24, 40, 60)},
            figures=("samples", "losses"),
        ),
        Stage(
            "flow-realnvp",
            "flow",
            "RealNVP (multi-scale)",
            # measured on 2026-12-03 on 2 cores: 29 epochs in 6,019 s of training (about
            # 207 s each), test 1.0955 bits/dim (4 dequantisation draws; val 1.106), FID 78.6.
            # That run's cosine was planned over 35 epochs, then 31 after epoch 5 and 29 after
            # epoch 8 (its lr at most 2.5% above this preset's). 12 epochs gave test 1.142
            {
                "arch": "realnvp",
                "channels": 32,
                "blocks": 2,
                "batch_size": 64,
                "epochs": 29,
                "lr_schedule": "cosine",
                "keep_epochs": (1, 4, 9, 18, 29),
            },
            figures=("bpd", "samples_T1", "samples_T0.7"),
        ),
        Stage(
            "diffusion",
            "diffusion",
            "DDPM (U-Net)",
            # the family's defaults (16 channels x (1, 2, 2), 1 block, T = 1000, 28 epochs,
            # cosine lr): 2,422 s on 2 free cores, FID 24.6, bound 1.69 bits/dim (2026-12-03).
            # FID samples are DDIM-50: 27.7 images/s on 2 threads (about 6 min for 10,000)
            {"keep_epochs": (1, 4, 14, 28)},
            {"bound_images": 1000, "bound_t": 25},
            figures=("loss", "samples", "denoising"),
        ),
    ),
    sections=COURSE_SECTIONS,
)


def on_dataset(preset: Preset, data: dict[str, Any]) -> Preset:
    """``preset``'s study on another data set: every stage trains on ``data`` (``DataConfig``
    fields: ``dataset``, ``image_size``, ``image_channels``), the course report's reference
    values (MNIST numbers) are dropped, and the name says which data set it ran on."""
    given = {k: v for k, v in data.items() if v is not None}
    stages = tuple(
        dataclasses.replace(s, overrides={**s.overrides, **given}, reference={})
        for s in preset.stages
    )
    label = Path(str(given["dataset"])).name or str(given["dataset"])
    return dataclasses.replace(
        preset,
        name=f"{preset.name}-{label}",
        description=f"{preset.description} (on {label})",
        stages=stages,
    )


def get_preset(name: str) -> Preset:
    """A built-in preset by name, or the preset file ``name`` (ending in ``.json``)."""
    if name.endswith(".json") or Path(name).is_file():
        from genzoo.reproduce.preset_file import load_preset

        return load_preset(name)
    try:
        return PRESETS[name]
    except KeyError:
        choices = ", ".join(PRESETS)
        raise ConfigError(
            f"unknown preset {name!r}; choose one of {choices} or give a preset file PATH.json"
        ) from None


def check_preset(preset: Preset) -> None:
    """Refuse, before anything is trained, a stage of an unknown family, a figure its family
    does not declare, a section extra that does not exist or an evaluate or sample option it
    lacks."""
    from genzoo.family import get_family, resolve_options

    for stage in preset.stages:
        family = get_family(stage.family)
        declared = {f.name for f in family.figures}
        for name in stage.figures:
            if name not in declared:
                have = ", ".join(sorted(declared)) or "none"
                raise ConfigError(
                    f"preset {preset.name}, stage {stage.key}: the {stage.family} family declares "
                    f"no figure {name!r} (it has {have})"
                )
        evaluate = {**stage.evaluate, **stage.timeline_evaluate}
        resolve_options(stage.family, "evaluate", family.evaluate_options, stage.evaluate)
        resolve_options(stage.family, "evaluate", family.evaluate_options, evaluate)
        resolve_options(stage.family, "sample", family.sample_options, stage.sample)
    for section in preset.sections:
        bad = [e for e in section.extras if e not in EXTRAS]
        if bad:
            raise ConfigError(
                f"preset {preset.name}, section {section.title!r}: unknown extra(s) "
                f"{', '.join(bad)}; known: {', '.join(EXTRAS)}"
            )
