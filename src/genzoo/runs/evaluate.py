"""Evaluate one run: the family's own test metrics plus sample quality, into ``eval.json``.

Shared by ``genzoo evaluate``, ``Run.evaluate`` and ``genzoo reproduce``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from genzoo.runs.run import Run, load_run
from genzoo.training.rundir import RunDir

if TYPE_CHECKING:
    from genzoo.data import ImageData
    from genzoo.evaluation.quality import QualityConfig

__all__ = ["evaluate_run"]


class _PartialFile:
    """An ``EvalPartial`` in the run folder: ``RUN/.eval.json.partial.pt`` (per record name),
    written atomically under the folder's lock and keyed by what is measured: the weights'
    and the images' content, the split, the seed and the options. A state saved by another
    evaluation is not handed out (the next save replaces it). Removed once the evaluation's
    record is written, so a stop while the samples are scored keeps the finished NLL. Each
    save also keeps the seconds spent so far, which a resumed record reports."""

    def __init__(self, folder: RunDir, record: str, key: dict[str, Any]) -> None:
        self.path = self.file(folder, record)
        self.key = key
        self.earlier_s = 0.0  # seconds the stopped attempts spent up to their last save
        self._start = time.perf_counter()

    @staticmethod
    def file(folder: RunDir, record: str) -> Path:
        return folder.path / f".{record}.partial.pt"

    def load(self) -> dict[str, Any] | None:
        import warnings

        from genzoo.errors import GenzooWarning

        if not self.path.is_file():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:  # written by another version: start over
            return None
        if saved.get("key") != self.key:
            return None
        warnings.warn(f"continuing the evaluation kept in {self.path}", GenzooWarning, 2)
        self.earlier_s = float(saved["spent_s"])
        return saved["state"]

    def save(self, state: dict[str, Any]) -> None:
        from genzoo.files import atomic_write

        spent = self.earlier_s + time.perf_counter() - self._start
        payload = {"key": self.key, "state": state, "spent_s": spent}
        atomic_write(self.path, lambda f: torch.save(payload, f))


def _weights_hash(model: torch.nn.Module) -> str:
    """sha256 of the model's parameters and buffers, in state-dict order."""
    import hashlib

    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _family_metrics(
    run: Run, data: Any, split: str, seed: int, options: dict, folder: RunDir, record: str
) -> dict[str, Any]:
    """The family's own metrics, or the step's validation terms on ``split`` without them. A
    family with ``resumable_evaluate`` keeps its partial results in the run folder and
    continues a stopped evaluation of the same weights, images and options from them."""
    from genzoo.family import resolve_options
    from genzoo.training.loop import evaluate_split

    fam, cfg = run.family, run.config
    opts = resolve_options(fam.name, "evaluate", fam.evaluate_options, options)
    partial: _PartialFile | None = None
    extra: dict[str, Any] = {}
    if fam.resumable_evaluate:
        key = {"weights": _weights_hash(run.model), "images": data.content_hash()}
        key.update({"split": split, "seed": seed, "options": dict(opts)})
        partial = _PartialFile(folder, record, key)
        extra = {"partial": partial}
    metrics = fam.evaluate(run.model, cfg, data, split, run.device, seed=seed, **extra, **opts)
    if metrics is None:
        step = fam.make_step(run.model, cfg.model, cfg.train)
        x, y = data.view(split, fam.data_view(cfg.model)), data.labels[split]
        metrics = evaluate_split(step, x, y, cfg.train.eval_batch_size, run.device)
    if partial is not None and partial.earlier_s:
        metrics = {**metrics, "eval_time_before_s": partial.earlier_s}
    return metrics


def _sample_quality(
    run: Run, cfg: QualityConfig, data: ImageData, sample_options: dict[str, Any]
) -> dict[str, Any]:
    """``evaluation.quality.sample_quality`` of the run's samples, with the evaluation network
    of the run's data set (``evaluation.evaluators``: the shipped one for MNIST, else the one
    cached for the data's content), against the cached test-set reference in the view the run
    was trained on (the fixed binarisation for binarised data, else the 8-bit images). Without
    such a network (unlabelled data, none trained yet, weights refused): ``quality_skipped``
    (a one-line reason, with the command that makes the network where one can be made) and
    ``skipped_metrics``. The protocol's ``reference`` records the data's ``image_size`` and
    ``image_channels`` too, so the real-vs-real floor loads the same images. The samples are
    drawn with the family's ``sample_options`` (checked; e.g. a diffusion model's ``steps``).
    """
    from genzoo.evaluation.evaluators import find_evaluator
    from genzoo.evaluation.quality import QUALITY_KEYS, sample_quality
    from genzoo.evaluation.reference import reference_features, reference_view

    source = run.config.data  # how ``data`` (all of it) was loaded
    classifier, reason = find_evaluator(data, run.device, source, run.config.shape)
    if classifier is None:
        return {"quality_skipped": reason, "skipped_metrics": [*QUALITY_KEYS, "class_shares"]}
    view = reference_view(run.family.data_view(run.config.model))
    reference = reference_features(classifier, source.dataset, "test", view, data=data)

    def sample_fn(model: Any, n: int, generator: torch.Generator) -> torch.Tensor:
        return run.sample(n, generator, **sample_options)

    result = sample_quality(sample_fn, run.model, classifier, reference, cfg, run.device)
    sizes = {"image_size": source.image_size, "image_channels": source.image_channels}
    result["quality_protocol"]["reference"].update(sizes)
    return result


def evaluate_run(
    run: Run | str | os.PathLike,
    *,
    device: torch.device | str = "cpu",
    split: str = "test",
    checkpoint: str = "best",
    seed: int = 0,
    samples: int | None = None,
    quality: bool = True,
    data: ImageData | None = None,
    sample_options: dict[str, Any] | None = None,
    images: int | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Metrics of the run on ``split``; writes and returns ``RUN/eval.json`` (for a kept epoch's
    checkpoint, ``checkpoint="epochE"``: ``RUN/eval_epoch{E:03d}.json``).

    ``run``: a loaded ``Run`` or a run folder (then ``checkpoint`` and ``device`` say what to
    load; with a loaded ``Run``, ``checkpoint`` names only the record). ``images``: evaluate the
    family's metrics on the first N images of ``split`` only (default: all, or the run's
    ``limit_eval``). ``options``: the family's declared evaluate options (``k`` for a VAE, ...).
    ``samples`` (default 10,000, or the run's ``limit_eval`` when smaller) are drawn for FID,
    KID, precision/recall and class coverage; likelihoods come under the common names
    ``nll_nats``, ``bpd`` and ``neg_elbo_nats``. ``data``: the images to evaluate on (default:
    the run's data set, loaded by name). ``sample_options``: the family's declared sample
    options for the quality samples (default: the family's defaults); eval.json records them
    all under ``sample_options``, as they change FID and the rest.
    """
    from genzoo.errors import ConfigError
    from genzoo.evaluation.quality import QualityConfig
    from genzoo.family import resolve_options

    if samples is not None:
        QualityConfig(samples=samples)  # validates before any slow work
    if images is not None and images < 1:
        raise ConfigError(f"images must be >= 1, got {images}")
    if not isinstance(run, Run):
        run = load_run(run, checkpoint, device)
    fam = run.family
    sampler = resolve_options(fam.name, "sample", fam.sample_options, sample_options or {})
    folder = RunDir.open(run.path)
    with folder.lock():  # one writer: refused at once while the run trains or is evaluated
        record = folder.eval_name(checkpoint)
        result = _measure(
            run, folder, record, split, seed, samples, quality, data, options, sampler, images
        )
        folder.write_json(record, result)  # atomic
        _PartialFile.file(folder, record).unlink(missing_ok=True)
    return result


def _measure(
    run: Run,
    folder: RunDir,
    record: str,
    split: str,
    seed: int,
    samples: int | None,
    quality: bool,
    data: ImageData | None,
    options: dict[str, Any],
    sampler: dict[str, Any],
    images: int | None,
) -> dict[str, Any]:
    """The ``eval.json`` record of ``evaluate_run``."""
    from genzoo.data.datasets import load_configured
    from genzoo.evaluation.quality import QualityConfig

    cfg, family = run.config, run.family
    default = QualityConfig.samples  # 10,000; a tiny run (--limit-eval) gets a tiny evaluation
    samples = samples or max(16, min(default, cfg.train.limit_eval or default))
    if data is None:
        data = load_configured(cfg.data)
    full = data  # the evaluation network is keyed by the whole data set's content
    limit = min((n for n in (cfg.train.limit_eval, images) if n is not None), default=None)
    if limit is not None:
        data = data.subset({"val": limit, "test": limit})
    start = time.perf_counter()
    metrics = _family_metrics(run, data, split, seed, options, folder, record)
    view = family.data_view(cfg.model)
    result: dict[str, Any] = {
        "family": cfg.family,
        "arch": getattr(cfg.model, "arch", None),
        "data_view": view,
        "split": split,
        "checkpoint_epoch": run.epochs_done,
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "train_time_s": folder.train_seconds(run.epochs_done),  # of the evaluated weights
        **metrics,
    }
    if quality and family.can_sample:
        quality_cfg = QualityConfig(samples=samples, seed=seed)
        result["sample_options"] = sampler
        result.update(_sample_quality(run, quality_cfg, full, sampler))
    # a resumed evaluation counts what the stopped attempts spent (eval_time_before_s) too
    result["eval_time_s"] = time.perf_counter() - start + result.get("eval_time_before_s", 0.0)
    return result
