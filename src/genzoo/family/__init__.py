"""The model-family interface: one typed ``Family`` base class, the sample/evaluate options
and figures a family declares, and the registry that finds families through the
``genzoo.families`` entry points.

May import: ``genzoo.errors`` (and, for type hints only, config, data and training.step).
"""

from genzoo.family.figures import CurveFigure, Figure, ImageFigure, Series
from genzoo.family.interface import (
    EvalPartial,
    Family,
    ImageShape,
    NotAvailableError,
    Option,
    require_shape,
    resolve_options,
)
from genzoo.family.registry import family_names, get_family, register

__all__ = [
    "Family",
    "EvalPartial",
    "ImageShape",
    "Option",
    "NotAvailableError",
    "resolve_options",
    "require_shape",
    "ImageFigure",
    "CurveFigure",
    "Series",
    "Figure",
    "get_family",
    "family_names",
    "register",
]
