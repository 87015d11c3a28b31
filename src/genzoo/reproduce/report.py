"""Build the report of ``genzoo reproduce`` (figures 1-8 of the course report, its sections
1.4 and 1.5, the cross-family comparison and the costs) from finished runs."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

import torch

from genzoo.reproduce.document import Code, Document, Figure, Heading, Paragraph, Table
from genzoo.reproduce.kl import kl_examples
from genzoo.reproduce.presets import Preset
from genzoo.training.rundir import RunDir
from genzoo.viz import image_file_panels, line_plot
from genzoo.viz.curves import epoch_curves

__all__ = ["build_report", "FIGURE_FILES"]

# the figure files the report is made of (relative to the report folder)
FIGURE_FILES = {
    1: "figures/fig1_vae_elbo_curves.png",
    2: "figures/fig2_vae_samples.png",
    3: "figures/fig3_vae_manifold.png",
    4: "figures/fig4_gan_samples.png",
    5: "figures/fig5_gan_losses.png",
    6: "figures/fig6_gan_interpolation.png",
    7: "figures/fig7_flow_bpd.png",
    8: "figures/fig8_flow_samples.png",
}


def _g(x: Any, fmt: str = ".2f") -> str:
    return "-" if x is None else format(x, fmt)


def _epoch_files(
    run: Path, pattern: str, epochs: tuple[int, ...], required: bool = True
) -> list[tuple[str, Path]]:
    files = [(f"epoch {e}", run / "figures" / pattern.format(e=e)) for e in epochs]
    missing = [str(p) for _, p in files if not p.is_file()]
    if not required:
        return [(t, p) for t, p in files if p.is_file()]
    if missing:
        raise FileNotFoundError(f"figure files missing: {', '.join(missing)}")
    return files


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())
    return dst


def build_report(
    preset: Preset,
    out: Path,
    results: list[dict[str, Any]],
    interpolation: Path,
    floors: list[dict[str, Any]],
    env: dict[str, Any],
) -> Document:
    """Compose every figure into ``out/figures`` and return the report document."""
    by = {r["key"]: r for r in results}
    f = {n: out / p for n, p in FIGURE_FILES.items()}
    vae20, vae2 = by["vae-z20"], by["vae-z2"]
    gan, flow = by["gan-mlp"], by["flow-mlp"]
    doc = Document(f"genzoo reproduction of the course report ({preset.name} preset)")
    doc.add(
        Paragraph(
            f"Preset '{preset.name}': {preset.description}. Every number and figure below was "
            "produced by `genzoo reproduce` from the runs under runs/ in this folder."
        )
    )

    # --- VAE ------------------------------------------------------------------------------
    doc.add(Heading("1 Variational autoencoders"))
    panels = [epoch_curves(RunDir(r["run"]).read_metrics(), "loss") for r in (vae20, vae2)]
    line_plot(panels, f[1], titles=["z = 20", "z = 2"], ylabel="negative ELBO (nats)", sharey=False)
    doc.add(
        Figure(
            f[1],
            "Negative ELBO per epoch on the training set (single-sample, dynamic binarisation) "
            "and the validation set (fixed binarisation), z=20 left and z=2 right. Final "
            f"validation: z=20 {_g(_last(vae20, 'loss'))} nats, z=2 {_g(_last(vae2, 'loss'))} "
            "nats (report: 101.7 and 151.2).",
            "Figure 1",
        )
    )
    ep20 = vae20["stage"].overrides["sample_epochs"]
    image_file_panels(
        [
            _epoch_files(vae20["run"], "samples_epoch{e:03d}.png", ep20),
            _epoch_files(vae20["run"], "means_epoch{e:03d}.png", ep20),
        ],
        f[2],
        row_titles=["samples", "means"],
    )
    doc.add(
        Figure(
            f[2],
            "VAE (z=20) samples over training from the same prior draws at every epoch: "
            "Bernoulli samples (top) and the decoder's means (bottom).",
            "Figure 2",
        )
    )
    ep2 = vae2["stage"].overrides["sample_epochs"]
    image_file_panels(
        [
            _epoch_files(vae2["run"], "manifold_epoch{e:03d}.png", ep2),
            _epoch_files(vae2["run"], "recon_epoch{e:03d}.png", ep2, required=False),
        ],
        f[3],
        row_titles=["manifold", "reconstructions"],
        width=3.6,
    )
    doc.add(
        Figure(
            f[3],
            "The learned manifold of the z=2 VAE over training: decoder means on a grid through "
            "the normal quantile function (top), and fixed validation digits with their "
            "reconstructions (bottom, alternating rows).",
            "Figure 3",
        )
    )
    doc.add(Heading("1.4 Evaluating log p(x): naive Monte Carlo vs importance sampling", 3))
    ev = vae20["eval"]
    doc.add(
        Table(
            ["estimator", "examples", "k", "-log p(x) (nats)", "std. error", "effective samples"],
            [
                [
                    "naive: z ~ p(z)",
                    ev.get("naive_examples", "-"),
                    ev.get("k", "-"),
                    _g(ev.get("naive_nll")),
                    _g(ev.get("naive_stderr_mean"), ".3g"),
                    _g(ev.get("naive_ess_mean"), ".3g"),
                ],
                [
                    "importance: z ~ q(z|x)",
                    ev.get("naive_examples", "-"),
                    ev.get("k", "-"),
                    _g(ev.get("nll_same_examples")),
                    "-",
                    "-",
                ],
                [
                    "importance, whole test set",
                    ev.get("examples", "-"),
                    ev.get("k", "-"),
                    _g(ev.get("nll_nats", ev.get("nll"))),
                    _g(ev.get("nll_mc_stderr"), ".3g"),
                    _g(ev.get("iwae_ess_mean"), ".3g"),
                ],
            ],
            "VAE z=20 on the test set. Sampling z from the prior almost never hits the region "
            "where p(x|z) is large: a handful of draws carry all the weight (tiny effective "
            "sample size) and the naive estimate is far too low a likelihood. Importance "
            "sampling from q(z|x) (the IWAE bound with k samples) is tight.",
        )
    )
    doc.add(Heading("1.5 KL divergence examples", 3))
    rows = [
        [
            r["label"],
            f"{r['sigma']:.6g}",
            f"{r['mu']:.6g}",
            f"{r['closed_form']:.6g}",
            f"{r['monte_carlo']:.4g} ± {r['mc_stderr']:.2g}",
            f"{r['report']:.3g}",
        ]
        for r in kl_examples(preset.kl_mc_samples)
    ]
    doc.add(
        Table(
            ["example", "sigma", "mu", "closed form", "Monte Carlo ± s.e.", "report"],
            rows,
            "KL(N(mu, sigma^2) || N(0, 1)) = (sigma^2 + mu^2 - 1)/2 - log sigma in float64, "
            f"and a Monte-Carlo estimate from {preset.kl_mc_samples:,} draws. The report's "
            "pairs are (sigma, mu); its 1.49e-10 is 1.49999...e-10 truncated.",
        )
    )

    # --- GAN -------------------------------------------------------------------------------
    doc.add(Heading("2 Generative adversarial networks"))
    epg = gan["stage"].overrides["sample_epochs"]
    image_file_panels([_epoch_files(gan["run"], "samples_epoch{e:03d}.png", epg)], f[4])
    doc.add(Figure(f[4], "GAN samples from the same 25 latents over training.", "Figure 4"))
    per_step = gan["run"] / "figures" / "losses.png"  # absent when no step was logged
    _copy(per_step if per_step.is_file() else gan["run"] / "figures" / "losses_epoch.png", f[5])
    doc.add(
        Figure(
            f[5],
            "Discriminator and generator losses per epoch (and smoothed per step); the "
            "discriminator's loss at the equilibrium D = 1/2 is log 4 (marked).",
            "Figure 5",
        )
    )
    _copy(interpolation, f[6])
    doc.add(Figure(f[6], _interp_caption(interpolation), "Figure 6"))

    # --- Flow ------------------------------------------------------------------------------
    doc.add(Heading("3 Normalizing flows"))
    _copy(flow["run"] / "figures" / "bpd.png", f[7])
    doc.add(
        Figure(
            f[7],
            "Bits per dimension of the 8-bit images (dequantisation, scaling and logit "
            "log-determinants included) per epoch, train and validation. Final validation: "
            f"{_g(_last(flow, 'bpd'), '.3f')} (report: about 1.82).",
            "Figure 7",
        )
    )
    epf = flow["stage"].overrides["sample_epochs"]
    image_file_panels([_epoch_files(flow["run"], "samples_T1_epoch{e:03d}.png", epf)], f[8])
    doc.add(
        Figure(f[8], "Flow samples (temperature 1) from fixed noise over training.", "Figure 8")
    )

    # --- comparison ---------------------------------------------------------------------
    from genzoo.evaluation.table import COLUMNS, comparison_notes, comparison_rows, row_cells

    evals = [(r["key"], r["eval"]) for r in results]
    doc.add(Heading("4 Comparison across families"))
    header = [h for _, h, _ in COLUMNS]
    body = [row_cells(row) for row in comparison_rows(evals, floors)]
    doc.add(Table(header, body, " ".join(comparison_notes(evals, floors))))
    doc.add(
        Table(
            ["run", "parameters", "train (s)", "evaluate (s)", "samples/s", "status"],
            [
                [
                    r["key"],
                    f"{r['eval'].get('parameters', 0):,}",
                    f"{r['train_s']:.0f}",
                    f"{r['eval_s']:.0f}",
                    _g(r["eval"].get("samples_per_s"), ".0f"),
                    r["status"],
                ]
                for r in results
            ],
            "Cost of each model on this machine (train time of this invocation; 'reused' stages "
            "keep the time recorded when they were trained).",
        )
    )

    # --- environment --------------------------------------------------------------------
    doc.add(Heading("5 Environment"))
    doc.add(
        Code(
            "\n".join(
                [
                    f"genzoo {env.get('genzoo')}, torch {torch.__version__}, "
                    f"python {sys.version.split()[0]}",
                    f"platform {platform.platform()}",
                    f"device {env.get('device')}, threads {env.get('threads')}, "
                    f"seed {env.get('seed')}",
                    f"preset {preset.name}; wall time {env.get('wall_s', 0):.0f} s",
                ]
            )
        )
    )
    return doc


def _last(result: dict[str, Any], metric: str) -> float | None:
    vals = [
        r[metric]
        for r in RunDir(result["run"]).read_metrics()
        if r.get("split") == "val" and metric in r
    ]
    return vals[-1] if vals else None


def _interp_caption(path: Path) -> str:
    note = path.with_suffix(".txt")
    extra = note.read_text().strip() if note.is_file() else ""
    return (
        "GAN interpolations: each row joins two generated digits (2 endpoints and 7 steps) "
        "along the report's path: equidistant points in the unit cube mapped through the "
        f"normal quantile function. {extra}"
    ).strip()
