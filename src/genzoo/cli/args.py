"""Command-line flags generated from config dataclasses, and a one-line-error parser."""

from __future__ import annotations

import argparse
import sys
import types
import typing
from dataclasses import MISSING, Field, fields
from typing import Any, Literal, NoReturn

from genzoo.config import field_help, field_types

__all__ = ["Parser", "add_config_flags", "collect_overrides", "flag_name"]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _scalar_parser(tp: Any) -> Any:
    if tp is bool:
        return _parse_bool
    return tp


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _converter(tp: Any) -> tuple[Any, list[Any] | None, str]:
    """``(parse function, choices, metavar)`` for a field type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)][0]
        parse, choices, metavar = _converter(inner)

        def optional(text: str) -> Any:
            return None if text.lower() == "none" else parse(text)

        optional.__name__ = getattr(parse, "__name__", "value")
        return optional, None if choices is None else [*choices, None], metavar + "|none"
    if origin is Literal:
        args = list(typing.get_args(tp))
        return type(args[0]), args, "{" + ",".join(map(str, args)) + "}"
    if origin is tuple:
        args = typing.get_args(tp)
        elem = _scalar_parser(args[0])

        def parse_tuple(text: str) -> tuple:
            parts = [p for p in text.replace(" ", "").split(",") if p]
            if len(args) != 2 or args[1] is not Ellipsis:
                if len(parts) != len(args):
                    raise argparse.ArgumentTypeError(f"expected {len(args)} comma-separated values")
            return tuple(elem(p) for p in parts)

        parse_tuple.__name__ = "list"
        return parse_tuple, None, "A,B,..."
    return _scalar_parser(tp), None, tp.__name__.upper()


def _help(f: Field, shown: Any) -> str:
    """The field's declared help and its default, e.g. ``latent dimensions (default: 20)``."""
    text = field_help(f)
    return f"{text} (default: {shown})" if text else f"(default: {shown})"


def add_config_flags(
    parser: argparse.ArgumentParser, cls: type, defaults: Any = None, title: str | None = None
) -> list[str]:
    """Add one flag per field of dataclass ``cls``; returns the field names.

    Flags default to ``argparse.SUPPRESS`` so only given flags override; help shows the default
    taken from ``defaults`` (an instance) or the dataclass.
    """
    group = parser.add_argument_group(title) if title else parser
    hints = field_types(cls)
    names = []
    for f in fields(cls):
        tp = hints[f.name]
        if defaults is not None:
            default = getattr(defaults, f.name)
        elif f.default is not MISSING:
            default = f.default
        else:
            default = None
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        if tp is bool:
            group.add_argument(
                flag_name(f.name),
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=_help(f, shown),
            )
        else:
            parse, choices, metavar = _converter(tp)
            group.add_argument(
                flag_name(f.name),
                dest=f.name,
                type=parse,
                choices=choices,
                metavar=metavar,
                default=argparse.SUPPRESS,
                help=_help(f, shown),
            )
        names.append(f.name)
    return names


def collect_overrides(ns: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The given (non-suppressed) values among ``names``."""
    return {n: getattr(ns, n) for n in names if hasattr(ns, n)}


def add_family_options(parser: argparse.ArgumentParser, what: str, purpose: str = "") -> list[str]:
    """Flags for the ``what`` (``sample`` or ``evaluate``) options every family declares, one
    group per family (``purpose`` ends each group's title); returns their names. Which of them
    apply is known only once the run's family is: ``family_overrides`` then refuses the ones
    that family does not declare."""
    from genzoo.family import family_names, get_family

    seen: dict[str, str] = {}
    for fam_name in family_names():
        family = get_family(fam_name)
        declared = getattr(family, f"{what}_options")
        if not declared:
            continue
        group = parser.add_argument_group(f"{what} options of the {fam_name} family{purpose}")
        for opt in declared:
            if opt.name in seen:  # declared by an earlier family too: one flag serves both
                continue
            seen[opt.name] = fam_name
            kwargs: dict[str, Any] = {"dest": opt.name, "default": argparse.SUPPRESS}
            if opt.type is bool:
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs.update(type=_scalar_parser(opt.type), choices=opt.choices)
                kwargs["metavar"] = opt.type.__name__.upper() if opt.choices is None else None
            group.add_argument(opt.flag, help=f"{opt.help} (default: {opt.default})", **kwargs)
    return list(seen)


def family_overrides(
    ns: argparse.Namespace, names: list[str], family: Any, what: str
) -> dict[str, Any]:
    """The checked ``what`` options of ``family`` from the given flags (with defaults);
    a flag the family does not declare is a ``ConfigError`` (exit 2, one line)."""
    from genzoo.family import resolve_options

    given = collect_overrides(ns, names)
    return resolve_options(family.name, what, getattr(family, f"{what}_options"), given)
