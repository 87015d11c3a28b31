"""``genzoo reproduce --preset quick|paper|best|PATH.json [--out reports/NAME]``."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]

_PRESET_FILE = """\
a preset file (JSON) runs your own stages, of any family, plug-ins included:

  {"name": "mine", "description": "one line for the report",
   "stages": [{"key": "vae-small", "family": "vae", "label": "VAE, z=8",
               "overrides": {"z_dim": 8, "epochs": 5, "sample_epochs": [0, 5]},
               "evaluate": {"k": 100},
               "figures": ["curves", "samples", "means"],
               "reference": {"loss": 101.7}}],
   "sections": [{"title": "Small VAEs", "stages": ["vae-small"],
                 "extras": ["estimators", "kl"]}],
   "quality_samples": 1000, "interpolation_rows": 6, "kl_mc_samples": 100000,
   "data_limits": {"limit_train": 5000, "limit_eval": 1000}}

required: name, stages (each with key and family). A stage: key (its folder under OUT/runs/),
family, label (default: key), overrides (training and model settings by field name, as the
flags of genzoo train), evaluate (the family's evaluate options), sample (the family's sample
options for the quality samples, e.g. {"steps": 20} for diffusion), figures (names of figures
the family declares, shown in the report with their declared captions; consecutive image
figures share one figure), reference (metric -> a value to quote beside the final one).
sections (optional) group stages under one heading and may end with the report's own blocks:
estimators (naive vs importance-sampled log p(x)), kl (KL examples), interpolation (latent
interpolations); a stage in no section gets a section of its own. A stage whose overrides
keep epochs ("keep_epochs": [1, 5, 10]) has those checkpoints evaluated too, with
timeline_samples samples (default 2000) and the first timeline_images test images (default
1000), for the report's quality-against-training-time figure, with the stage's evaluate
options updated by its timeline_evaluate (e.g. {"k": 500}). Unknown keys are refused.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from genzoo.cli.common import add_runtime_flags
    from genzoo.reproduce.presets import PRESETS

    p = sub.add_parser(
        "reproduce",
        help="train, evaluate and report every figure of the course report",
        description="Train (or reuse, or resume) the report's models, evaluate them and write "
        "report.md and a self-contained report.html. Re-running continues an interrupted run.",
        epilog=_PRESET_FILE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--preset", default="quick", metavar="NAME|PATH.json",
        help="; ".join(f"{k}: {v.description}" for k, v in PRESETS.items())
        + "; or a preset file (below)",
    )  # fmt: skip
    p.add_argument("--out", default=None, help="report folder (default: reports/PRESET-NAME)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="folder holding mnist/ (or GENZOO_DATA_DIR)")
    p.add_argument(
        "--dataset", default=None, metavar="NAME|PATH",
        help="run the study on this data set instead of each stage's own (a registered name "
        "or a folder of images); families adapt settings the images cannot take (RGB: the "
        "VAE's logistic likelihood) and the course's MNIST reference values are left out",
    )  # fmt: skip
    p.add_argument("--image-size", type=int, default=None, help="with --dataset: resize to SxS")
    p.add_argument(
        "--image-channels", type=int, default=None, choices=(1, 3),
        help="with --dataset: convert to 1 (grey) or 3 (RGB) channels",
    )  # fmt: skip
    p.add_argument(
        "--print-preset", action="store_true",
        help="print the preset as a preset file (JSON) and exit, e.g. to start your own from "
        "a built-in one (genzoo reproduce --preset best --print-preset > mine.json)",
    )  # fmt: skip
    add_runtime_flags(p)
    p.set_defaults(
        handler=run,
        after_stop="finished stages are kept; the same command reuses them and continues the "
        "stopped one",
    )


def run(args: argparse.Namespace) -> int:
    from genzoo.errors import ConfigError
    from genzoo.reproduce import get_preset, reproduce
    from genzoo.reproduce.presets import on_dataset
    from genzoo.training.runtime import setup_runtime

    preset = get_preset(args.preset)  # a bad name or file fails before any set-up
    if args.print_preset:
        from genzoo.reproduce.preset_file import preset_to_json

        print(preset_to_json(preset))
        return 0
    data = None
    if args.dataset is not None:
        data = {"dataset": args.dataset, "image_size": args.image_size}
        data["image_channels"] = args.image_channels
    elif args.image_size is not None or args.image_channels is not None:
        raise ConfigError("--image-size and --image-channels go with --dataset")
    dev = setup_runtime(args.device, args.threads)
    name = preset.name if data is None else on_dataset(preset, data).name
    out = args.out or f"reports/{name}"
    _, html = reproduce(
        preset, out, device=dev, seed=args.seed, data_dir=args.data_dir, data=data,
        quiet=args.quiet,
    )  # fmt: skip
    print(html)
    return 0
