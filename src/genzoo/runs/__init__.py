"""Run-level operations over a trained run folder: load it, sample from it, evaluate it into
``eval.json``, interpolate in its latent space, and compare runs across families.

May import: config, family, training (checkpoints, run folders, the loop's evaluation),
evaluation (metrics, the feature network), data, maths, viz.
"""

from genzoo.runs.run import Run, load_run

__all__ = ["Run", "load_run"]
