"""Sample quality of any model family, measured on the evaluation network's features.

``sample_quality`` draws N samples through a family's ``sample(model, n, generator)`` (in
batches, from one seeded generator), times them, and compares them with the reference features
of the test set: FID, KID (mean and std over subsets), precision and recall (k-NN manifolds) and
class coverage. ``feature_metrics`` is the same comparison for two given feature sets, which is
also how the real-vs-real floor is computed. Evaluating a run (which network, which data,
which reference view) is ``genzoo.runs.evaluate``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from genzoo.evaluation.classifier import EvalClassifier
from genzoo.evaluation.coverage import class_coverage
from genzoo.evaluation.frechet import fid_from_features
from genzoo.evaluation.kid import kid
from genzoo.evaluation.precision_recall import precision_recall
from genzoo.evaluation.reference import ReferenceFeatures
from genzoo.seeding import make_generator

__all__ = [
    "QualityConfig",
    "draw_samples",
    "feature_metrics",
    "sample_quality",
    "QUALITY_KEYS",
]

QUALITY_KEYS = ("fid", "kid", "kid_std", "precision", "recall", "class_kl", "rarest_class_share")


@dataclass(frozen=True)
class QualityConfig:
    """The sample-quality protocol. Numbers are comparable only under the same protocol."""

    samples: int = 10_000
    batch_size: int = 1000
    seed: int = 0
    k: int = 3  # neighbours of the precision/recall manifolds
    kid_subsets: int = 100
    kid_subset_size: int = 1000

    def __post_init__(self) -> None:
        from genzoo.errors import ConfigError

        if self.samples < 2 * self.k + 2:
            raise ConfigError(f"--samples must be >= {2 * self.k + 2}, got {self.samples}")
        if self.batch_size < 1 or self.kid_subsets < 1 or self.kid_subset_size < 2:
            raise ConfigError("quality: batch size, KID subsets must be >= 1, subset size >= 2")


def draw_samples(
    sample_fn: Callable[..., Tensor],
    model: Any,
    n: int,
    batch_size: int,
    generator: torch.Generator,
) -> tuple[Tensor, float, int]:
    """``n`` samples ``(n, C, H, W)`` on the CPU, the seconds the sampling took, and how many
    samples had a non-finite pixel.

    ``sample_fn(model, b, generator)`` is a family's ``sample``; its output is clamped to [0, 1]
    (non-finite pixels, from a diverged model, become 0: see ``nonfinite_samples``).
    """
    chunks = []
    start = time.perf_counter()
    for i in range(0, n, batch_size):
        b = min(batch_size, n - i)
        with torch.no_grad():
            x = sample_fn(model, b, generator)
        if x.shape[0] != b or x.ndim != 4:
            from genzoo.errors import GenzooError

            raise GenzooError(f"sample() returned shape {tuple(x.shape)}, expected ({b}, C, H, W)")
        chunks.append(x.detach().float())
    if chunks and chunks[0].is_cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    images = torch.cat(chunks).cpu()
    nonfinite = int((~torch.isfinite(images)).flatten(1).any(1).sum())
    return images.nan_to_num_(0.0, 0.0, 0.0).clamp_(0, 1), seconds, nonfinite


def feature_metrics(
    fake: Tensor,
    fake_labels: Tensor,
    real: ReferenceFeatures,
    cfg: QualityConfig,
    num_classes: int = 10,
) -> dict[str, Any]:
    """Every sample-quality metric of features ``fake`` ``(N, F)`` against ``real``.

    FID and KID in float64; precision/recall in float32 on chunked distances.
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    fid = fid_from_features(fake, real.features)
    timings["fid_s"] = time.perf_counter() - t
    t = time.perf_counter()
    k = kid(
        fake,
        real.features,
        cfg.kid_subsets,
        cfg.kid_subset_size,
        make_generator(cfg.seed, "kid-subsets"),
    )
    timings["kid_s"] = time.perf_counter() - t
    t = time.perf_counter()
    pr = precision_recall(real.features.float(), fake.float(), k=cfg.k)
    timings["precision_recall_s"] = time.perf_counter() - t
    cov = class_coverage(fake_labels, num_classes)
    return {
        "fid": fid,
        "kid": k.mean,
        "kid_std": k.std,
        "precision": pr.precision,
        "recall": pr.recall,
        "class_kl": cov.kl,
        "rarest_class_share": cov.rarest_share,
        "class_shares": cov.shares,
        "metric_timings": timings,
    }


def sample_quality(
    sample_fn: Callable[..., Tensor],
    model: Any,
    classifier: EvalClassifier,
    reference: ReferenceFeatures,
    cfg: QualityConfig | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Draw ``cfg.samples`` samples from ``model`` and measure them against ``reference``.

    Returns the metrics of ``feature_metrics`` plus ``samples_per_s`` (sampling throughput,
    classifier time excluded), ``nonfinite_samples`` (samples with a NaN/Inf pixel, zeroed
    before measuring) and ``quality_protocol`` (what the numbers depend on).
    """
    cfg = cfg or QualityConfig()
    gen = make_generator(cfg.seed, "quality-samples", device=device)
    images, seconds, nonfinite = draw_samples(sample_fn, model, cfg.samples, cfg.batch_size, gen)
    t = time.perf_counter()
    feats, labels = classifier.features_and_labels(images.to(device))
    feature_s = time.perf_counter() - t
    metrics = feature_metrics(
        feats.cpu(), labels.cpu(), reference, cfg, classifier.arch.num_classes
    )
    metrics["metric_timings"] = {
        "sampling_s": seconds,
        "features_s": feature_s,
        **metrics["metric_timings"],
    }
    protocol = {
        **asdict(cfg),
        "reference": {
            k: reference.meta.get(k)
            for k in ("dataset", "split", "view", "n", "images", "data_content_hash")
        },
        "network_sha256": reference.meta.get("network_sha256"),
    }
    return {
        "samples_per_s": cfg.samples / max(seconds, 1e-9),
        **metrics,
        "nonfinite_samples": nonfinite,
        "quality_protocol": protocol,
    }
