"""``genzoo evaluator train|info``: the feature network behind the sample-quality metrics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genzoo.cli.args import add_config_flags, collect_overrides

if TYPE_CHECKING:
    from genzoo.config import DataConfig

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from genzoo.evaluation.train_classifier import EvaluatorConfig

    p = sub.add_parser(
        "evaluator", help="train or inspect the evaluation network of a labelled data set"
    )
    esub = p.add_subparsers(
        dest="evaluator_cmd", metavar="COMMAND", required=True, parser_class=type(p)
    )
    train = esub.add_parser(
        "train",
        help="train the classifier whose features FID/KID/precision/recall use",
        description="Train the evaluation network of a labelled data set on its training "
        "labels, into the user cache under the data's content hash, where `genzoo evaluate` "
        "finds it. MNIST runs always use the shipped network; on MNIST, the recorded config "
        "and the same thread count reproduce its weights.",
    )
    train.set_defaults(cfg_fields=add_config_flags(train, EvaluatorConfig, title="training"))
    train.add_argument(
        "--out",
        default=None,
        help="weights file (default: <cache>/evaluators/<content hash>/evaluator.pt, the one "
        "`genzoo evaluate` uses); a .json goes beside",
    )
    train.add_argument(
        "--data-dir", default=None, help="folder holding the data sets (or GENZOO_DATA_DIR)"
    )
    train.add_argument("--threads", type=int, default=None, help="CPU threads")
    train.set_defaults(handler=run_train)
    info = esub.add_parser("info", help="show the record of a data set's (or a given) network")
    info.add_argument("weights", nargs="?", default=None, help="weights file (default: shipped)")
    info.add_argument(
        "--dataset", default=None, help="show the network `genzoo evaluate` uses for this data"
    )
    info.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="with --dataset: resized as a run's --image-size",
    )
    info.add_argument(
        "--image-channels", type=int, default=None, choices=(1, 3),
        help="with --dataset: converted as a run's --image-channels",
    )  # fmt: skip
    info.add_argument(
        "--accuracy", action="store_true", help="also measure its test accuracy (a few seconds)"
    )
    info.add_argument("--data-dir", default=None)
    info.add_argument("--threads", type=int, default=None)
    info.set_defaults(handler=run_info)


def run_train(args: argparse.Namespace) -> int:
    from genzoo.evaluation.evaluators import evaluator_path, uses_shipped
    from genzoo.evaluation.train_classifier import (
        EvaluatorConfig,
        load_evaluator_data,
        train_classifier,
    )
    from genzoo.training.runtime import setup_runtime

    setup_runtime("cpu", args.threads)
    cfg = EvaluatorConfig(**collect_overrides(args, args.cfg_fields))
    data = load_evaluator_data(cfg, args.data_dir)
    out = Path(args.out) if args.out else evaluator_path(data.content_hash())
    _, record = train_classifier(cfg, out=out, data=data)
    print(f"wrote {out} (sha256 {record['sha256']}) and {out.with_suffix('.json')}")
    if uses_shipped(data):
        print("note: MNIST runs are evaluated with the shipped network, not this one")
    return 0


def _info_source(args: argparse.Namespace, record: dict[str, Any] | None = None) -> DataConfig:
    """How ``info`` loads the data it looks at: ``--dataset`` with ``--image-size`` and
    ``--image-channels``, else as the network's ``record`` was trained on."""
    from genzoo.config import DataConfig

    if args.dataset is not None:
        name, size, channels = args.dataset, args.image_size, args.image_channels
    else:
        made = (record or {}).get("train_config") or {}
        name = (record or {}).get("dataset", "mnist")
        size, channels = made.get("image_size"), made.get("image_channels")
    return DataConfig(name, args.data_dir, size, channels)


def _weights_of(args: argparse.Namespace) -> Path | None:
    """The weights file ``info`` shows: given, the data set's, or ``None`` (shipped)."""
    if args.weights is not None or args.dataset is None:
        return args.weights
    from genzoo.data.datasets import load_configured
    from genzoo.evaluation.evaluators import load_evaluator

    source = _info_source(args)
    return load_evaluator(load_configured(source), "cpu", source).weights_path


def run_info(args: argparse.Namespace) -> int:
    from genzoo.errors import ConfigError
    from genzoo.evaluation.classifier import classifier_record, load_classifier
    from genzoo.training.runtime import setup_runtime

    if args.dataset is None and (args.image_size is not None or args.image_channels is not None):
        raise ConfigError("--image-size and --image-channels go with --dataset")
    weights = _weights_of(args)
    record = classifier_record(weights)
    shown = {k: v for k, v in record.items() if k != "history"}
    print(json.dumps(shown, indent=2))
    if args.accuracy:
        from genzoo.evaluation.train_classifier import accuracy

        setup_runtime("cpu", args.threads)
        from genzoo.data.datasets import load_configured

        model = load_classifier(weights)
        data = load_configured(_info_source(args, record))
        acc = accuracy(model, data.view("test", "unit"), data.labels["test"])
        print(f"test accuracy (measured now): {acc:.4f}")
    return 0
