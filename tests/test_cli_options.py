"""Family options on the command line: a flag the run's family does not declare is one line on
stderr and exit 2 (``genzoo sample GAN_RUN --temperature 0.7``); a declared one is accepted."""

from __future__ import annotations

import pytest
import torch

from genzoo.cli.main import main

TINY = ("--epochs", "1", "--limit-train", "128", "--limit-eval", "64", "--threads", "1", "--quiet")
TINY += ("--sample-epochs=",)  # no figures at epoch 0: these tests read checkpoints only


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory, data_dir):
    """One-epoch runs of the gan, vae and flow families, trained by ``genzoo train`` in this
    process (these tests are about ``sample`` and ``evaluate``: three interpreter starts fewer)."""
    root = tmp_path_factory.mktemp("cli-options")
    threads = torch.get_num_threads()  # --threads 1 sets this process's count
    try:
        vae = ("--hidden", "32", "--keep-epochs", "1")
        for family, extra in (("gan", ()), ("vae", vae), ("flow", ())):
            argv = ["train", family, *TINY, *extra, "--runs-dir", str(root), "--name", family]
            assert main(argv) == 0, family
    finally:
        torch.set_num_threads(threads)
    return {family: root / family for family in ("gan", "vae", "flow")}


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse errors
        return int(exc.code)


@pytest.mark.parametrize(
    "command, family, flag",
    [("sample", "gan", "--temperature"), ("evaluate", "vae", "--dequant-samples")],
)
def test_undeclared_family_option_is_one_line_exit_2(command, family, flag, tiny_runs, capsys):
    value = "0.7" if flag == "--temperature" else "2"
    argv = [command, str(tiny_runs[family]), flag, value, "--threads", "1"]
    if command == "sample":
        argv = argv[:-2]  # sample has no --threads
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and family in err[0] and flag in err[0], err


def test_declared_family_option_is_accepted(tiny_runs, tmp_path):
    out = tmp_path / "flow.png"
    argv = ["sample", str(tiny_runs["flow"]), "--temperature", "0.7", "-n", "4", "--out", str(out)]
    assert _exit_code(argv) == 0
    assert out.is_file()


def test_evaluate_draws_its_quality_samples_with_the_family_sample_options(tiny_runs, capsys):
    """``genzoo evaluate FLOW --temperature 0.7``: the quality samples are drawn at that
    temperature, and eval.json records the sample options it used (they change FID); a GAN run
    refuses the flow's option in one line."""
    import json

    flow = tiny_runs["flow"]
    common = ["--samples", "64", "--threads", "1", "--quiet", "--dequant-samples", "1"]
    fids = {}
    for temperature in ("1.0", "0.7"):
        assert _exit_code(["evaluate", str(flow), "--temperature", temperature, *common]) == 0
        record = json.loads((flow / "eval.json").read_text())
        assert record["sample_options"] == {"temperature": float(temperature)}
        fids[temperature] = record["fid"]
    assert fids["1.0"] != fids["0.7"]  # the option reached the sampler
    capsys.readouterr()
    argv = ["evaluate", str(tiny_runs["gan"]), "--temperature", "0.7", "--threads", "1"]
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gan" in err[0] and "--temperature" in err[0], err


def test_evaluate_a_kept_epoch_into_its_own_record(tiny_runs, capsys):
    """``--checkpoint epoch1`` (kept by ``--keep-epochs 1``) writes ``eval_epoch001.json`` with
    the training seconds of that epoch; ``--images`` limits the family's metrics; an epoch
    that was not kept is one line and exit 1, a malformed name exit 2."""
    import json

    from genzoo.training.rundir import RunDir

    vae = tiny_runs["vae"]
    args = ["--images", "32", "--k", "4", "--naive-examples", "0", "--no-quality", "--quiet"]
    capsys.readouterr()
    assert _exit_code(["evaluate", str(vae), "--checkpoint", "epoch1", *args]) == 0
    assert capsys.readouterr().out.strip().endswith("eval_epoch001.json")
    record = json.loads((vae / "eval_epoch001.json").read_text())
    assert record["checkpoint_epoch"] == 1 and record["examples"] == 32
    assert record["train_time_s"] == RunDir(vae).train_seconds(1) > 0
    assert _exit_code(["evaluate", str(vae), "--checkpoint", "epoch3", *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not kept" in err[0], err
    assert _exit_code(["sample", str(vae), "--checkpoint", "newest"]) == 2
    assert "epochE" in capsys.readouterr().err
