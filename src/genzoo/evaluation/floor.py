"""The real-vs-real floor: the sample-quality metrics of real training images against the test
set, under the same protocol (sample count, k, KID subsets) as the models. No model can be
expected to do better than real data, so every model's numbers are read against this row.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any

from genzoo.data.datasets import ImageData, load_dataset
from genzoo.data.fetch import cache_dir
from genzoo.evaluation.classifier import EvalClassifier
from genzoo.evaluation.quality import QualityConfig, feature_metrics
from genzoo.evaluation.reference import reference_features, safe_name

__all__ = ["real_floor"]


def real_floor(
    classifier: EvalClassifier,
    dataset: str = "mnist",
    cfg: QualityConfig | None = None,
    data: ImageData | None = None,
    view: str = "unit",
    use_cache: bool = True,
) -> dict[str, Any]:
    """Metrics of ``cfg.samples`` training images (a seeded subset) against the test set, both
    in ``view`` (``unit``: the 8-bit images; ``binary``: their fixed binarisation).

    Cached as JSON beside the reference features, keyed by data set (name and content hash),
    view, protocol and network. ``classifier`` must be the data set's evaluation network
    (``evaluation.evaluators.load_evaluator``), the one its runs were measured with.
    """
    cfg = cfg or QualityConfig()
    data = data if data is not None else load_dataset(dataset)
    sha, data_hash = classifier.weights_sha256, data.content_hash()
    protocol = {
        **asdict(cfg),
        "dataset": dataset,
        "view": view,
        "network_sha256": sha,
        "data_content_hash": data_hash,
    }
    name = (
        f"floor-{safe_name(dataset)}-{view}-n{cfg.samples}-s{cfg.seed}-{(sha or 'x')[:16]}"
        f"-{data_hash[:12]}.json"
    )
    path = cache_dir() / "reference" / name
    if use_cache and sha is not None and path.is_file():
        try:
            cached = json.loads(path.read_text())
            if cached.get("quality_protocol") == protocol:
                return cached
        except (OSError, ValueError):
            pass
    real = reference_features(classifier, dataset, "test", view, data=data, use_cache=use_cache)
    train = reference_features(
        classifier, dataset, "train", view, cfg.samples, cfg.seed, data, use_cache
    )
    metrics = feature_metrics(train.features, train.labels, real, cfg, classifier.arch.num_classes)
    label = "binarised" if view == "binary" else "8-bit"
    result = {"name": f"real {label} (train vs test)", **metrics, "quality_protocol": protocol}
    if use_cache and sha is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
            tmp.write_text(json.dumps(result, indent=2) + "\n")
            os.replace(tmp, path)
        except OSError:
            pass
    return result
