"""CLI behaviour: one-line errors with exit code 2, train -> sample -> evaluate on tiny data."""

from __future__ import annotations

import json

import pytest

from genzoo.api import make_config
from genzoo.cli.main import main
from genzoo.config import RunConfig
from genzoo.errors import ConfigError
from tests.conftest import run_cli


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "vae", "--z-dim", "abc"], "--z-dim"),
        (["train", "vae", "--z-dim", "-3"], "z-dim"),
        (["train", "vae", "--no-such-flag"], "no-such-flag"),
        (["train", "nosuchfamily"], "nosuchfamily"),
        (["train", "vae", "--arch", "transformer"], "--arch"),
        (["train", "vae", "--betas", "0.5"], "--betas"),
        (["data", "info", "cifar"], "cifar"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        code = main(argv)
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_run_config_json_round_trip():
    cfg = make_config("vae", z_dim=2, epochs=3, betas=(0.5, 0.9), sample_epochs=(0, 3))
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_unknown_override_is_config_error():
    with pytest.raises(ConfigError, match="zdim"):
        make_config("vae", zdim=3)


def test_train_sample_evaluate_smoke(tmp_path, capsys):
    res = run_cli(
        "train",
        "vae",
        "--epochs",
        "2",
        "--hidden",
        "32",
        "--limit-train",
        "300",
        "--limit-eval",
        "200",
        "--batch-size",
        "50",
        "--runs-dir",
        str(tmp_path),
        "--name",
        "tiny",
        "--quiet",
        "--threads",
        "1",
        "--sample-epochs=",  # no figures at epoch 0: the smoke test reads the checkpoint
    )
    assert res.returncode == 0, res.stderr
    run = tmp_path / "tiny"
    assert (run / "checkpoints" / "best.pt").is_file() and (run / "config.json").is_file()
    res = run_cli("sample", str(run), "-n", "16", "--out", str(tmp_path / "s.png"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "s.png").stat().st_size > 100
    res = run_cli("evaluate", str(run), "--k", "10", "--threads", "1")
    assert res.returncode == 0, res.stderr
    result = json.loads((run / "eval.json").read_text())
    assert result["family"] == "vae" and result["split"] == "test"
    # resuming a finished run is a no-op that keeps its metrics (in-process: no start-up)
    before = (run / "metrics.jsonl").read_text()
    assert main(["resume", str(run), "--quiet"]) == 0, capsys.readouterr().err
    assert (run / "metrics.jsonl").read_text() == before


def test_existing_run_folder_is_not_overwritten(tmp_path, capsys):
    args = ["train", "vae", "--epochs", "0", "--runs-dir", str(tmp_path), "--name", "x", "--quiet"]
    assert run_cli(*args, "--sample-epochs=").returncode == 0
    capsys.readouterr()
    assert main(args) == 2  # in-process: refused before anything starts
    assert "already exists" in capsys.readouterr().err


def test_sample_missing_run_is_clear(tmp_path, capsys):
    # in-process: an exception (a traceback on the command line) would fail the test
    assert main(["sample", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a genzoo run folder" in err[0], err
