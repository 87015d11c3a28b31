"""``genzoo evaluator train|info``: the feature network behind the sample-quality metrics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genzoo.cli.args import add_config_flags, collect_overrides

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from genzoo.evaluation.train_classifier import EvaluatorConfig

    p = sub.add_parser("evaluator", help="train or inspect the evaluation network (MNIST CNN)")
    esub = p.add_subparsers(
        dest="evaluator_cmd", metavar="COMMAND", required=True, parser_class=type(p)
    )
    train = esub.add_parser(
        "train",
        help="train the classifier whose features FID/KID/precision/recall use",
        description="Train the evaluation network; with the recorded config and the same "
        "thread count this reproduces the shipped weights.",
    )
    train.set_defaults(cfg_fields=add_config_flags(train, EvaluatorConfig, title="training"))
    train.add_argument(
        "--out",
        default=None,
        help="weights file (default: <cache>/evaluator/mnist_classifier.pt); a .json goes beside",
    )
    train.add_argument(
        "--data-dir", default=None, help="folder holding mnist/ (or GENZOO_DATA_DIR)"
    )
    train.add_argument("--threads", type=int, default=None, help="CPU threads")
    train.set_defaults(handler=run_train)
    info = esub.add_parser("info", help="show the shipped (or given) network's record")
    info.add_argument("weights", nargs="?", default=None, help="weights file (default: shipped)")
    info.add_argument(
        "--accuracy", action="store_true", help="also measure its test accuracy (a few seconds)"
    )
    info.add_argument("--data-dir", default=None)
    info.add_argument("--threads", type=int, default=None)
    info.set_defaults(handler=run_info)


def run_train(args: argparse.Namespace) -> int:
    from genzoo.data.fetch import cache_dir
    from genzoo.evaluation.train_classifier import EvaluatorConfig, train_classifier
    from genzoo.training.runtime import setup_runtime

    setup_runtime("cpu", args.threads)
    cfg = EvaluatorConfig(**collect_overrides(args, args.cfg_fields))
    out = Path(args.out) if args.out else cache_dir() / "evaluator" / "mnist_classifier.pt"
    _, record = train_classifier(cfg, out=out, data_dir=args.data_dir)
    print(f"wrote {out} (sha256 {record['sha256']}) and {out.with_suffix('.json')}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from genzoo.evaluation.classifier import classifier_record, load_classifier
    from genzoo.training.runtime import setup_runtime

    record = classifier_record(args.weights)
    shown = {k: v for k, v in record.items() if k != "history"}
    print(json.dumps(shown, indent=2))
    if args.accuracy:
        from genzoo.data import load_dataset
        from genzoo.evaluation.train_classifier import accuracy

        setup_runtime("cpu", args.threads)
        model = load_classifier(args.weights)
        data = load_dataset(record.get("dataset", "mnist"), args.data_dir)
        acc = accuracy(model, data.view("test", "unit"), data.labels["test"])
        print(f"test accuracy (measured now): {acc:.4f}")
    return 0
