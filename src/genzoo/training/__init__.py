"""The training spine: generic loop, family steps, run folders, checkpoints, runtime set-up."""

from genzoo.training.checkpoint import load_checkpoint, save_checkpoint
from genzoo.training.loop import FitResult, evaluate_split, fit
from genzoo.training.rundir import RunDir
from genzoo.training.runtime import resolve_device, setup_runtime
from genzoo.training.step import Step

__all__ = [
    "fit",
    "FitResult",
    "evaluate_split",
    "Step",
    "RunDir",
    "save_checkpoint",
    "load_checkpoint",
    "resolve_device",
    "setup_runtime",
]
