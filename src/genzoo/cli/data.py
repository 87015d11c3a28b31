"""``genzoo data info NAME``: where each file was found, whether it verified, split sizes."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="inspect data sets")
    dsub = p.add_subparsers(dest="data_cmd", metavar="COMMAND", required=True, parser_class=type(p))
    info = dsub.add_parser("info", help="locate and verify a data set, show its splits")
    info.add_argument("name", help="mnist, fashion-mnist or kmnist")
    info.add_argument("--data-dir", default=None, help="folder holding NAME/ (or GENZOO_DATA_DIR)")
    info.set_defaults(handler=run_info)


def run_info(args: argparse.Namespace) -> int:
    from genzoo.data.datasets import load_dataset
    from genzoo.data.fetch import search_dirs
    from genzoo.data.sources import get_spec

    spec = get_spec(args.name)
    print(f"data set: {spec.name}")
    print(
        "search order: " + ", ".join(f"{s}={d}" for s, d in search_dirs(spec.name, args.data_dir))
    )
    data = load_dataset(spec.name, args.data_dir)
    for role, found in data.files.items():
        how = "verified (remembered)" if found.remembered else "verified (sha256)"
        print(f"  {spec.files[role].name:28s} {how:22s} from {found.source}: {found.path}")
    for split in ("train", "val", "test"):
        counts = data.labels[split].bincount(minlength=10).tolist()
        print(f"  {split:5s} {data.size(split):6d} images  per class {counts}")
    return 0
