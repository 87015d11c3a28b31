"""Cross-family evaluation: metrics on the features of genzoo's own evaluation network.

- ``frechet``, ``kid``, ``precision_recall``, ``coverage``: pure metric functions on tensors.
- ``classifier``: the feature network, sized from any ``(C, H, W)``, and ``load_classifier()``
  (the MNIST weights ship in ``weights/``).
- ``train_classifier``: ``genzoo evaluator train``, on any labelled data set.
- ``evaluators``: which network measures which data set (the shipped one for MNIST, else one
  cached under the data's content hash), or why there is none.
- ``reference``: cached reference features of a data set split, keyed by the network's sha256.
- ``quality``: draw samples from any family and compute every sample-quality metric.
- ``floor``: the real-vs-real floor (training images against the test set).
- ``table``: rows, notes and rendering of the cross-family comparison table.

Pure metrics and the feature network only: loading runs, sampling them and writing their files
is ``genzoo.runs``. May import: config (field declarations), data, errors, seeding, and
training.schedule (the trainer of the network uses the training loop's schedule).
"""

from genzoo.evaluation.coverage import ClassCoverage, class_coverage
from genzoo.evaluation.frechet import (
    GaussianStats,
    feature_stats,
    fid_from_features,
    frechet_distance,
)
from genzoo.evaluation.kid import KIDResult, kid, mmd2_unbiased
from genzoo.evaluation.linalg import sqrtm_psd, trace_sqrt_product
from genzoo.evaluation.precision_recall import PrecisionRecall, precision_recall

__all__ = [
    "ClassCoverage",
    "class_coverage",
    "GaussianStats",
    "feature_stats",
    "fid_from_features",
    "frechet_distance",
    "KIDResult",
    "kid",
    "mmd2_unbiased",
    "sqrtm_psd",
    "trace_sqrt_product",
    "PrecisionRecall",
    "precision_recall",
]
