"""``genzoo data info NAME|PATH``: where the images came from, how they verified, shape,
classes, split sizes and per-class counts, and the split rule."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from genzoo.cli.args import add_config_flags
    from genzoo.config import DataConfig

    p = sub.add_parser("data", help="inspect data sets")
    dsub = p.add_subparsers(dest="data_cmd", metavar="COMMAND", required=True, parser_class=type(p))
    info = dsub.add_parser("info", help="locate and verify a data set, show its splits")
    info.add_argument(
        "name", help="mnist, fashion-mnist, kmnist, cifar10, or a folder of PNG/JPEG images"
    )
    info.set_defaults(handler=run_info)
    names = [n for n in add_config_flags(info, DataConfig, title="data") if n != "dataset"]
    info.set_defaults(data_fields=names)


def run_info(args: argparse.Namespace) -> int:
    from genzoo.cli.args import collect_overrides
    from genzoo.config import DataConfig
    from genzoo.data.datasets import load_configured
    from genzoo.data.fetch import search_dirs
    from genzoo.data.sources import is_registered

    cfg = DataConfig(dataset=args.name, **collect_overrides(args, args.data_fields))
    print(f"data set: {cfg.dataset}")
    if is_registered(cfg.dataset):
        search = ", ".join(f"{s}={d}" for s, d in search_dirs(cfg.dataset, cfg.data_dir))
        print(f"search order: {search}", flush=True)  # shown even when the files are missing
    data = load_configured(cfg)
    if data.files:
        for found in data.files.values():
            how = f"verified ({found.by}{', remembered' if found.remembered else ''})"
            print(f"  {found.path.name:28s} {how:38s} from {found.source}: {found.path}")
    print(f"source: {data.source}")
    print(f"shape: {data.shape} (C, H, W), uint8")
    if data.labelled:
        print(f"classes: {len(data.classes)}: {', '.join(data.classes)}")
    else:
        print("classes: none (unlabelled: images directly in the folder)")
    print(f"split rule: {data.split_rule}")
    for split in ("train", "val", "test"):
        line = f"  {split:5s} {data.size(split):6d} images"
        if data.labelled:
            counts = data.labels[split].bincount(minlength=len(data.classes)).tolist()
            line += f"  per class {counts}"
        print(line)
    return 0
