"""Build the report of ``genzoo reproduce`` from finished runs: a section per preset ``Section``
(the course report's: VAE, GAN, flow) and per stage in none, each showing the figures its
stages name from their family's declarations (file names and captions come from there), then
the report's own blocks (the estimators table, the KL examples, interpolations), the
cross-family comparison, the costs and the environment. Knows no family by name."""

from __future__ import annotations

import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genzoo.family import CurveFigure, ImageFigure, get_family
from genzoo.family import Figure as Declared
from genzoo.reproduce.document import Code, Document, Figure, Heading, Paragraph, Table
from genzoo.reproduce.kl import kl_examples
from genzoo.reproduce.presets import Preset, Stage
from genzoo.training.rundir import RunDir
from genzoo.viz import image_file_panels, line_plot
from genzoo.viz.figures import smooth

__all__ = ["build_report", "interpolation_stage", "report_sections"]


def _g(x: Any, fmt: str = ".2f") -> str:
    return "-" if x is None else format(x, fmt)


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())
    return dst


def _declared(stage: Stage, name: str) -> Declared:
    return next(f for f in get_family(stage.family).figures if f.name == name)


def report_sections(preset: Preset) -> list[tuple[str, list[Stage], tuple[str, ...]]]:
    """``(title, stages, extras)`` of every section of the report, in order: the preset's
    sections that have a stage in it, then a section for each stage in none."""
    by_key = {s.key: s for s in preset.stages}
    out, placed = [], set()
    for section in preset.sections:
        stages = [by_key[k] for k in section.stages if k in by_key]
        placed.update(s.key for s in stages)
        if stages:
            out.append((section.title, stages, section.extras))
    out += [(s.label, [s], ()) for s in preset.stages if s.key not in placed]
    return out


def interpolation_stage(preset: Preset) -> Stage | None:
    """The stage whose latent interpolations the report shows: the first stage that decodes
    latents in the first section asking for ``interpolation``."""
    for _, stages, extras in report_sections(preset):
        if "interpolation" in extras:
            return next((s for s in stages if get_family(s.family).can_decode), None)
    return None


@dataclass
class _Builder:
    """The report being built: the document, the figure counter, the runs by stage key."""

    preset: Preset
    out: Path
    results: dict[str, dict[str, Any]]
    interpolation: Path | None
    doc: Document
    figure_count: int = 0
    section: int = 0
    drawn: set[tuple[str, str]] = field(default_factory=set)  # (family, curve) per section

    def figure(self, stem: str, draw: Any, caption: str) -> None:
        """Number the next figure, draw it into ``figures/fig{N}_{stem}.png`` (``draw(path)``
        returns False when it has nothing to draw) and add it."""
        n = self.figure_count + 1
        path = self.out / "figures" / f"fig{n}_{stem}.png"
        if draw(path) is False:
            return
        self.figure_count = n
        self.doc.add(Figure(path, caption, f"Figure {n}"))

    def run(self, stage: Stage) -> RunDir:
        return RunDir(self.results[stage.key]["run"])


# --- curves ---------------------------------------------------------------------------------
def _lines(fig: CurveFigure, run: RunDir) -> dict[str, tuple[list[float], list[float]]]:
    """The series of ``fig`` from the run's records (a repeated epoch or step keeps its last)."""
    records, steps, lines = run.read_metrics(), run.read_metrics(steps=True), {}
    for s in fig.series:
        rows = steps if s.source == "steps" else [r for r in records if r.get("split") == s.source]
        x = "step" if s.source == "steps" else "epoch"
        points = {r[x]: r[s.key] for r in rows if r.get(s.key) is not None and x in r}
        if points:
            ys = [points[k] for k in sorted(points)]
            lines[s.label] = (sorted(points), smooth(ys) if s.smooth else ys)
    return lines


def _final_values(fig: CurveFigure, stage: Stage, run: RunDir) -> str:
    """``final validation loss 101.2 (report: 101.7)`` for each validation series of ``fig``."""
    parts = []
    for s in (s for s in fig.series if s.source == "val"):
        vals = [r[s.key] for r in run.read_metrics() if r.get("split") == "val" and s.key in r]
        if vals:
            ref = stage.reference.get(s.key)
            parts.append(f"final validation {s.key} {vals[-1]:.4g}" + _ref(ref))
    return ", ".join(parts)


def _ref(value: float | None) -> str:
    return "" if value is None else f" (report: {value:g})"


def _curve_figure(b: _Builder, fig: CurveFigure, stages: list[Stage]) -> None:
    """One curve figure: the run's own drawing for one stage, a panel per stage for several."""
    finals = [f"{s.label}: {v}" for s in stages if (v := _final_values(fig, s, b.run(s)))]
    numbers = f" Final values: {'; '.join(finals)}." if finals else ""
    if len(stages) == 1:
        src = b.run(stages[0]).path / "figures" / f"{fig.name}.png"
        caption = f"{stages[0].label}: {fig.caption}{numbers}"
        b.figure(f"{stages[0].key}_{fig.name}", lambda p: src.is_file() and _copy(src, p), caption)
        return

    def draw(path: Path) -> Path:
        panels = [_lines(fig, b.run(s)) for s in stages]
        titles = [s.label for s in stages]
        xlabel = "step" if all(s.source == "steps" for s in fig.series) else "epoch"
        hlines = dict(fig.hlines)
        return line_plot(
            panels, path, titles=titles, xlabel=xlabel, ylabel=fig.ylabel, hlines=hlines
        )

    order = ", ".join(s.label for s in stages)
    caption = f"{fig.caption} Left to right: {order}.{numbers}"
    b.figure(f"{stages[0].key}_{fig.name}", draw, caption)


# --- images ---------------------------------------------------------------------------------
def _epoch_files(run: RunDir, name: str) -> list[tuple[str, Path]]:
    """``(epoch E, RUN/figures/{name}_epoch{E:03d}.png)`` for every epoch the run drew."""
    pattern = re.compile(rf"{re.escape(name)}_epoch(\d+)\.png")
    found = [(int(m[1]), p) for p in run.figures.iterdir() if (m := pattern.fullmatch(p.name))]
    return [(f"epoch {e}", p) for e, p in sorted(found)]


def _image_figure(b: _Builder, stage: Stage, figs: list[ImageFigure]) -> None:
    """Image figures of one stage over its epochs, a row each (rows without files left out)."""
    rows = [(f, files) for f in figs if (files := _epoch_files(b.run(stage), f.name))]
    if not rows:
        return
    if len(rows) == 1:
        caption = f"{stage.label}, over training: {rows[0][0].caption}"
    else:
        parts = [f"row {i} ({f.name}): {f.caption}" for i, (f, _) in enumerate(rows, 1)]
        caption = f"{stage.label}, over training; " + " ".join(parts)
    stem = f"{stage.key}_{'-'.join(f.name for f, _ in rows)}"
    titles = [f.name for f, _ in rows] if len(rows) > 1 else None
    draw = lambda p: image_file_panels([r for _, r in rows], p, row_titles=titles)  # noqa: E731
    b.figure(stem, draw, caption)


def _stage_figures(b: _Builder, stage: Stage, section: list[Stage]) -> None:
    """The figures ``stage`` names, in order; consecutive image figures share one figure, and a
    curve that stages of one family in this section share is one figure with a panel each."""
    family = get_family(stage.family)
    group: list[ImageFigure] = []
    for name in (*stage.figures, None):
        fig = _declared(stage, name) if name is not None else None
        if isinstance(fig, ImageFigure):
            group.append(fig)
            continue
        if group:
            _image_figure(b, stage, group)
            group = []
        if isinstance(fig, CurveFigure) and (family.name, fig.name) not in b.drawn:
            b.drawn.add((family.name, fig.name))
            same = [s for s in section if s.family == stage.family and fig.name in s.figures]
            _curve_figure(b, fig, same)


# --- the report's own blocks -----------------------------------------------------------------
def _estimators(b: _Builder, stages: list[Stage]) -> None:
    """Naive Monte Carlo vs importance-sampled -log p(x), from the first stage that has both."""
    stage = next((s for s in stages if "naive_nll" in b.results[s.key]["eval"]), None)
    if stage is None:
        return
    ev = b.results[stage.key]["eval"]
    k, naive_n = ev.get("k", "-"), ev.get("naive_examples", "-")
    rows = [
        ["naive: z ~ p(z)", naive_n, k, _g(ev.get("naive_nll")),
         _g(ev.get("naive_stderr_mean"), ".3g"), _g(ev.get("naive_ess_mean"), ".3g")],
        ["importance: z ~ q(z|x)", naive_n, k, _g(ev.get("nll_same_examples")), "-", "-"],
        ["importance, whole test set", ev.get("examples", "-"), k,
         _g(ev.get("nll_nats", ev.get("nll"))), _g(ev.get("nll_mc_stderr"), ".3g"),
         _g(ev.get("iwae_ess_mean"), ".3g")],
    ]  # fmt: skip
    header = ["estimator", "examples", "k", "-log p(x) (nats)", "std. error", "effective samples"]
    b.doc.add(
        Heading(f"{b.section}.4 Evaluating log p(x): naive Monte Carlo vs importance sampling", 3),
        Table(
            header,
            rows,
            f"{stage.label} on the test set. Sampling z from the prior almost never hits the "
            "region where p(x|z) is large: a handful of draws carry all the weight (tiny "
            "effective sample size) and the naive estimate is far too low a likelihood. "
            "Importance sampling from q(z|x) (the IWAE bound with k samples) is tight.",
        ),
    )


def _kl(b: _Builder, stages: list[Stage]) -> None:
    """The KL examples of the course report, closed form and Monte Carlo."""
    n = b.preset.kl_mc_samples
    rows = [
        [r["label"], f"{r['sigma']:.6g}", f"{r['mu']:.6g}", f"{r['closed_form']:.6g}",
         f"{r['monte_carlo']:.4g} ± {r['mc_stderr']:.2g}", f"{r['report']:.3g}"]
        for r in kl_examples(n)
    ]  # fmt: skip
    b.doc.add(
        Heading(f"{b.section}.5 KL divergence examples", 3),
        Table(
            ["example", "sigma", "mu", "closed form", "Monte Carlo ± s.e.", "report"],
            rows,
            "KL(N(mu, sigma^2) || N(0, 1)) = (sigma^2 + mu^2 - 1)/2 - log sigma in float64, "
            f"and a Monte-Carlo estimate from {n:,} draws. The report's pairs are (sigma, mu); "
            "its 1.49e-10 is 1.49999...e-10 truncated.",
        ),
    )


def _interpolation(b: _Builder, stages: list[Stage]) -> None:
    """The interpolation figure ``reproduce`` drew for ``interpolation_stage``."""
    stage = interpolation_stage(b.preset)
    if b.interpolation is None or stage is None or stage not in stages:
        return
    note = b.interpolation.with_suffix(".txt")
    extra = note.read_text().strip() if note.is_file() else ""
    caption = (
        f"{stage.label} interpolations: each row joins two generated images (2 endpoints and 7 "
        "steps) along the report's path: equidistant points in the unit cube mapped through "
        f"the normal quantile function. {extra}"
    ).strip()
    src = b.interpolation
    b.figure(f"{stage.key}_interpolation", lambda p: _copy(src, p), caption)


_EXTRAS = {"estimators": _estimators, "kl": _kl, "interpolation": _interpolation}


# --- comparison, costs, environment --------------------------------------------------------
def _comparison(b: _Builder, results: list[dict[str, Any]], floors: list[dict[str, Any]]) -> None:
    from genzoo.evaluation.table import COLUMNS, comparison_notes, comparison_rows, row_cells

    evals = [(r["key"], r["eval"]) for r in results]
    b.doc.add(Heading(f"{b.section} Comparison across families"))
    body = [row_cells(row) for row in comparison_rows(evals, floors)]
    b.doc.add(Table([h for _, h, _ in COLUMNS], body, " ".join(comparison_notes(evals, floors))))
    costs = [
        [r["key"], f"{r['eval'].get('parameters', 0):,}", f"{r['train_s']:.0f}",
         f"{r['eval_s']:.0f}", _g(r["eval"].get("samples_per_s"), ".0f"), r["status"]]
        for r in results
    ]  # fmt: skip
    b.doc.add(
        Table(
            ["run", "parameters", "train (s)", "evaluate (s)", "samples/s", "status"],
            costs,
            "Cost of each model on this machine: train is the training epochs' seconds "
            "(RUN/timings.jsonl, summed over resumptions; validation and figures not included), "
            "evaluate the evaluations' (the kept epochs' included, and for a resumed one "
            "what its stopped attempts spent).",
        )
    )


def _timeline(b: _Builder, results: list[dict[str, Any]]) -> None:
    """Quality against training time from the checkpoints the stages kept (none: no figure)."""
    from genzoo.runs.timeline import importance_samples, protocol, quality_over_time

    runs = [(r["stage"].label, r["run"]) for r in results]
    panels = quality_over_time(runs)
    if not panels:
        return
    ks = importance_samples(runs)
    nll = f", NLLs with k = {' or '.join(f'{k:,}' for k in ks)} importance samples" if ks else ""
    caption = (
        "Quality against training time: each point is a checkpoint kept during training "
        f"(--keep-epochs), evaluated with {protocol(runs)} (FID) and on the first "
        f"{b.preset.timeline_images:,} test images (likelihoods{nll}), at the training seconds "
        "that produced it (this machine; reused stages keep their recorded times). FIDs from "
        "fewer samples sit above those of the table; binarised and 8-bit likelihoods are "
        "shown apart, and a bound (a diffusion model's) is marked '(bound)'. Lower is better "
        "in every panel."
    )

    def draw(path: Path) -> Path:
        titles = [t for t, _ in panels]
        return line_plot([lines for _, lines in panels], path, titles=titles, xlabel="minutes")

    b.figure("time_to_quality", draw, caption)


def _environment(preset: Preset, env: dict[str, Any]) -> Code:
    return Code(
        f"genzoo {env.get('genzoo')}, torch {torch.__version__}, python {sys.version.split()[0]}"
        f"\nplatform {platform.platform()}"
        f"\ndevice {env.get('device')}, threads {env.get('threads')}, seed {env.get('seed')}"
        f"\npreset {preset.name}; wall time {env.get('wall_s', 0):.0f} s"
    )


def build_report(
    preset: Preset,
    out: Path,
    results: list[dict[str, Any]],
    interpolation: Path | None,
    floors: list[dict[str, Any]],
    env: dict[str, Any],
) -> Document:
    """Compose every figure into ``out/figures`` and return the report document."""
    doc = Document(f"genzoo reproduction of the course report ({preset.name} preset)")
    doc.add(
        Paragraph(
            f"Preset '{preset.name}': {preset.description}. Every number and figure below was "
            "produced by `genzoo reproduce` from the runs under runs/ in this folder."
        )
    )
    b = _Builder(preset, out, {r["key"]: r for r in results}, interpolation, doc)
    for title, stages, extras in report_sections(preset):
        b.section += 1
        b.drawn.clear()
        doc.add(Heading(f"{b.section} {title}"))
        for stage in stages:
            _stage_figures(b, stage, stages)
        for extra in extras:
            _EXTRAS[extra](b, stages)
    b.section += 1
    _comparison(b, results, floors)
    _timeline(b, results)
    doc.add(Heading(f"{b.section + 1} Environment"), _environment(preset, env))
    return doc
