"""The one typed interface every model family implements, and the options it declares.

A family is a subclass of ``Family``: it builds its model from its own frozen config, makes
the training ``Step`` (which owns the optimizers), names the data view it trains on, and may
sample, evaluate likelihoods, encode/decode latents and hand the loop image ``snapshots`` for
its declared figures. Options of ``sample`` and ``evaluate`` are *declared* (``Option``): the
CLI makes flags from them and refuses an option a family does not declare.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from genzoo.errors import ConfigError
from genzoo.family.figures import Figure

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from genzoo.config import RunConfig, TrainConfig
    from genzoo.data import ImageData
    from genzoo.training.step import Step

__all__ = [
    "Family",
    "EvalPartial",
    "Option",
    "resolve_options",
    "NotAvailableError",
    "ImageShape",
    "require_shape",
]

ImageShape = tuple[int, int, int]  # (C, H, W) of one image


class EvalPartial(Protocol):
    """Where a long ``Family.evaluate`` keeps its partial results, so that a stopped one
    (Ctrl-C, SIGTERM, a session's end) continues where it stopped instead of starting over.
    The caller keys it by what is measured (weights, split, seed, images, options): a state
    ``load`` returns was saved by this same evaluation. A state holds tensors, numbers,
    strings, lists and dicts."""

    def load(self) -> dict[str, Any] | None:
        """The last saved state, or None (nothing saved, or saved by another evaluation)."""

    def save(self, state: dict[str, Any]) -> None:
        """Keep ``state`` (atomically: a stop mid-save keeps the previous one)."""


class NotAvailableError(ConfigError):
    """The family does not offer this capability (sampling, a latent decoder, ...)."""


@dataclass(frozen=True)
class Option:
    """An option of a family's ``sample`` or ``evaluate``: ``--name`` on the command line."""

    name: str  # Python name; the flag is --name-with-dashes
    type: type  # int, float, bool or str
    default: Any
    help: str  # one line, shown by --help
    gt: float | None = None  # the value must be > gt
    ge: float | None = None  # the value must be >= ge
    choices: tuple[Any, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        """``value`` when it is allowed (``None`` means the default), else ``ConfigError``."""
        if value is None:
            return self.default
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.type):
            raise ConfigError(f"{self.flag} must be a {self.type.__name__}, got {value!r}")
        if self.gt is not None and not value > self.gt:
            raise ConfigError(f"{self.flag} must be > {self.gt:g}, got {value}")
        if self.ge is not None and not value >= self.ge:
            raise ConfigError(f"{self.flag} must be >= {self.ge:g}, got {value}")
        if self.choices is not None and value not in self.choices:
            choices = ", ".join(map(str, self.choices))
            raise ConfigError(f"{self.flag} must be one of {choices}, got {value!r}")
        return value


def resolve_options(
    family: str, what: str, declared: tuple[Option, ...], given: dict[str, Any]
) -> dict[str, Any]:
    """Every declared option with its given (checked) or default value.

    An option the family does not declare is a ``ConfigError`` naming the family, e.g.
    ``the gan family has no sample option --temperature (it has none)``.
    """
    by_name = {o.name: o for o in declared}
    for name in given:
        if name not in by_name:
            have = ", ".join(o.flag for o in declared) or "none"
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"the {family} family has no {what} option {flag} (it has {have})")
    return {o.name: o.check(given.get(o.name)) for o in declared}


def require_shape(family: str, shape: ImageShape, *supported: ImageShape) -> None:
    """``ConfigError`` in one line unless ``shape`` is one of ``supported``."""
    if tuple(shape) not in supported:
        have = ", ".join("x".join(map(str, s)) for s in supported)
        got = "x".join(map(str, shape))
        raise ConfigError(f"the {family} family takes {have} images so far, not {got}")


class Family(ABC):
    """A model family: subclass it, fill in the class attributes and the abstract methods.

    Register it under the ``genzoo.families`` entry-point group (``name = "pkg.mod:Class"``);
    see ``docs/adding-a-family.md``. Images handed out (samples, decodes, snapshots) are
    ``(N, C, H, W)`` floats in [0, 1].
    """

    name: ClassVar[str]
    description: ClassVar[str]  # one line, shown by ``genzoo train --help``
    config_cls: ClassVar[type]  # frozen dataclass of the model's settings (fields become flags)
    train_defaults: ClassVar[TrainConfig]  # the family's default training settings
    # why ``train_defaults.precision`` is the default (measured speed at equal quality); every
    # run's config.json records it next to the precision the run used
    precision_note: ClassVar[str] = "the library default; no measurement recorded for this family"
    sample_options: ClassVar[tuple[Option, ...]] = ()
    evaluate_options: ClassVar[tuple[Option, ...]] = ()
    # ``evaluate`` takes ``partial: EvalPartial`` and continues a stopped evaluation from it
    # (for an evaluation that takes minutes); the result equals an uninterrupted one
    resumable_evaluate: ClassVar[bool] = False
    figures: ClassVar[tuple[Figure, ...]] = ()

    # required ----------------------------------------------------------------------------
    @abstractmethod
    def build(self, cfg: Any, shape: ImageShape) -> nn.Module:
        """A fresh model from the family's config for images of ``shape`` ``(C, H, W)``, the
        run's data shape (the caller seeds torch beforehand)."""

    @abstractmethod
    def make_step(self, model: nn.Module, cfg: Any, train: TrainConfig) -> Step:
        """The training step of ``model``; it owns the optimizers."""

    @abstractmethod
    def data_view(self, cfg: Any) -> str:
        """The data view the model trains on (``genzoo.data.views``: binary, unit, ...)."""

    # optional capabilities ---------------------------------------------------------------
    def config_for(self, cfg: Any, shape: ImageShape) -> Any:
        """``cfg`` adapted to images of ``shape`` where a setting cannot take them (e.g. a
        one-channel likelihood on RGB), for studies run on another data set (``genzoo
        reproduce --dataset``); the default keeps ``cfg`` as it is."""
        return cfg

    def train_defaults_for(self, cfg: Any) -> TrainConfig:
        """The default training settings for model config ``cfg`` (flags override them):
        ``train_defaults`` unless a family's architectures train best at different ones."""
        return self.train_defaults

    def sample(
        self, model: nn.Module, n: int, generator: torch.Generator, **options: Any
    ) -> Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1]; ``options`` are the declared ones."""
        raise NotAvailableError(f"the {self.name} family cannot sample")

    def evaluate(
        self,
        model: nn.Module,
        cfg: RunConfig,
        data: ImageData,
        split: str,
        device: torch.device,
        seed: int = 0,
        **options: Any,
    ) -> dict[str, Any] | None:
        """Test metrics of ``model`` on ``split``, or None for the generic evaluation (the
        step's validation terms). Likelihoods go under the common names ``nll_nats``, ``bpd``
        (bits/dim of 8-bit or binarised data, per ``data_view``) and ``neg_elbo_nats``;
        ``likelihood_view`` names the view the likelihood is of when it is not ``data_view``
        (e.g. ``"uint8"``), and ``bpd_is_bound: True`` marks a bound, not an exact value.
        A family with ``resumable_evaluate`` also takes ``partial`` (an ``EvalPartial``)."""
        return None

    def latent_dim(self, cfg: Any, shape: ImageShape) -> int | None:
        """Size of the N(0, I) latent that ``decode`` takes for images of ``shape``, or None."""
        return None

    def encode(self, model: nn.Module, x: Tensor) -> Tensor:
        """Images in the family's view ``(B, C, H, W)`` -> latents ``(B, D)``."""
        raise NotAvailableError(f"the {self.name} family has no encoder")

    def decode(self, model: nn.Module, z: Tensor) -> Tensor:
        """Latents ``(B, D)`` -> images ``(B, C, H, W)`` in [0, 1]."""
        raise NotAvailableError(f"the {self.name} family has no latent decoder")

    def snapshots(self, model: nn.Module, cfg: Any, val_x: Tensor) -> dict[str, Tensor]:
        """Images for the declared ``ImageFigure``s at a sample epoch: ``{figure name: (N, C,
        H, W) in [0, 1]}`` from fixed noise. ``val_x``: the first validation images in the
        family's view. Called in eval mode without gradients."""
        return {}

    # derived -------------------------------------------------------------------------------
    @property
    def can_sample(self) -> bool:
        return type(self).sample is not Family.sample

    @property
    def can_decode(self) -> bool:
        return type(self).decode is not Family.decode

    def __repr__(self) -> str:
        return f"<genzoo family {self.name!r}: {type(self).__module__}.{type(self).__name__}>"
