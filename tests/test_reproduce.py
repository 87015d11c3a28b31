"""``genzoo reproduce --preset tiny``: every figure and both report files, all referenced."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from genzoo.errors import ConfigError
from genzoo.reproduce.kl import kl_examples
from genzoo.reproduce.preset_file import load_preset, preset_from_dict, preset_to_json
from genzoo.reproduce.presets import PRESETS, check_preset
from genzoo.training.rundir import RunDir
from tests.conftest import run_cli

# the course report's figures 1-8: (number, run, declared figures shown)
COURSE_FIGURES = [
    (1, "vae-z20", "curves"),
    (2, "vae-z20", "samples-means"),
    (3, "vae-z2", "manifold-recon"),
    (4, "gan-mlp", "samples"),
    (5, "gan-mlp", "losses"),
    (6, "gan-mlp", "interpolation"),
    (7, "flow-mlp", "bpd"),
    (8, "flow-mlp", "samples_T1"),
]
FIGURE_FILES = {n: f"figures/fig{n}_{key}_{names}.png" for n, key, names in COURSE_FIGURES}
# then quality against training time, from the checkpoints the tiny stages keep
TIMELINE = "figures/fig9_time_to_quality.png"

# one math thread: the default (every core) oversubscribes a shared 2-core machine, where the
# many small kernels of KID and precision/recall then wait on descheduled threads
ONE = ("--threads", "1")


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    res = run_cli("reproduce", "--preset", "tiny", "--out", str(out), "--quiet", *ONE, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def test_every_figure_and_both_reports_exist_and_are_referenced(tiny_report):
    md = (tiny_report / "report.md").read_text()
    html = (tiny_report / "report.html").read_text()
    for n, rel in FIGURE_FILES.items():
        path = tiny_report / rel
        assert path.is_file() and path.stat().st_size > 1000, rel
        assert f"]({rel})" in md and f"Figure {n}." in md
    # every image of the HTML is embedded (self-contained), one per figure
    assert (tiny_report / TIMELINE).is_file() and f"]({TIMELINE})" in md
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(srcs) == len(FIGURE_FILES) + 1 and all(
        s.startswith("data:image/png;base64,") for s in srcs
    )
    for needle in ("1.4", "1.5", "Comparison across families", "real 8-bit", "Environment"):
        assert needle in md


def test_captions_come_from_the_declarations(tiny_report):
    from genzoo.family import get_family

    md = (tiny_report / "report.md").read_text()
    for name in ("curves", "samples", "means", "manifold", "recon"):
        assert next(f for f in get_family("vae").figures if f.name == name).caption in md
    assert next(f for f in get_family("flow").figures if f.name == "bpd").caption in md
    assert "final validation loss" in md and "(report: 101.7)" in md


def _results(report: Path, keys: list[str]) -> list[dict]:
    import json

    stages = {s.key: s for s in PRESETS["tiny"].stages}
    return [
        {"key": k, "stage": stages[k], "run": report / "runs" / k, "status": "reused",
         "eval": json.loads((report / "runs" / k / "eval.json").read_text()),
         "train_s": 1.0, "eval_s": 1.0}
        for k in keys
    ]  # fmt: skip


def test_sections_follow_the_stages_in_the_preset(tiny_report, tmp_path):
    from dataclasses import replace

    from genzoo.reproduce.report import build_report

    tiny = PRESETS["tiny"]
    keep = [s for s in tiny.stages if s.key in ("vae-z2", "flow-mlp")]
    # no z=20 VAE, no GAN; the flow in no section gets a section of its own
    sections = tuple(s for s in tiny.sections if "vae-z2" in s.stages)
    preset = replace(tiny, stages=tuple(keep), sections=sections)
    results = _results(tiny_report, ["vae-z2", "flow-mlp"])
    doc = build_report(preset, tmp_path, results, None, [], {"seed": 0})
    md = doc.write(tmp_path)[0].read_text()
    assert "## 1 Variational autoencoders" in md and "## 2 Flow (MLP coupling)" in md
    assert "adversarial" not in md and "interpolations" not in md
    assert "## 3 Comparison across families" in md and "## 4 Environment" in md
    assert [f.label for f in doc.figures()] == [f"Figure {n}" for n in range(1, 6)]
    assert doc.figures()[-1].path.name == "fig5_time_to_quality.png"
    assert "### 1.4" in md  # the z=2 VAE's eval.json has the naive estimate too


def test_preset_files_are_checked(tmp_path):
    good = {"name": "p", "stages": [{"key": "a", "family": "vae", "figures": ["samples"],
                                     "overrides": {"sample_epochs": [0, 1]}}]}  # fmt: skip
    preset = preset_from_dict(good)
    assert preset.stages[0].label == "a" and preset.stages[0].overrides["sample_epochs"] == (0, 1)
    check_preset(preset)
    path = tmp_path / "p.json"
    path.write_text('{"name": "p", "stages": [{"key": "a", "family": "vae", "colour": 1}]}')
    with pytest.raises(ConfigError, match="unknown key.*colour"):
        load_preset(path)
    with pytest.raises(ConfigError, match="declares no figure 'bpd'"):
        check_preset(
            preset_from_dict({**good, "stages": [{**good["stages"][0], "figures": ["bpd"]}]})
        )
    with pytest.raises(ConfigError, match="vae family has no sample option --temperature"):
        check_preset(
            preset_from_dict(
                {**good, "stages": [{**good["stages"][0], "sample": {"temperature": 0.7}}]}
            )
        )
    with pytest.raises(ConfigError, match="missing key.*stages"):
        preset_from_dict({"name": "p"})
    for name in PRESETS:
        check_preset(PRESETS[name])


def test_every_built_in_preset_prints_as_a_preset_file_that_loads_back_equal(tmp_path):
    for name, preset in PRESETS.items():
        assert preset_from_dict(json.loads(preset_to_json(preset))) == preset, name
    res = run_cli("reproduce", "--preset", "best", "--print-preset")
    assert res.returncode == 0, res.stderr
    (tmp_path / "mine.json").write_text(res.stdout)
    assert load_preset(tmp_path / "mine.json") == PRESETS["best"]


def test_best_trains_the_paper_runs_unchanged_and_keeps_epochs_of_both_gans():
    """``best`` is ``paper`` plus four stages; its MLP GAN differs only by kept checkpoints
    (points of the time-to-quality figure beside the DCGAN's), which do not change training."""
    paper, best = PRESETS["paper"].stages, PRESETS["best"].stages
    assert [s.key for s in best[: len(paper)]] == [s.key for s in paper]
    for ours, theirs in zip(best, paper, strict=False):
        kept = {k: v for k, v in ours.overrides.items() if k != "keep_epochs"}
        assert (kept, ours.evaluate, ours.figures) == (
            theirs.overrides, theirs.evaluate, theirs.figures
        )  # fmt: skip
    kept = {s.key: s.overrides.get("keep_epochs") for s in best}
    assert kept["gan-mlp"][-1] == 200 and kept["gan-dcgan"][-1] == 60
    assert "keep_epochs" not in {k for s in paper for k in s.overrides}


def test_kept_checkpoints_give_quality_against_training_time(tiny_report):
    """Each tiny stage keeps two epochs' checkpoints; each is evaluated into its own record
    at the training seconds of its epoch, and the figure has a line per stage and metric."""
    import json

    from genzoo.runs.timeline import quality_over_time
    from genzoo.training.rundir import RunDir

    for key, kept in (("vae-z20", [1, 2]), ("gan-mlp", [0, 2]), ("flow-mlp", [1, 2])):
        run = RunDir(tiny_report / "runs" / key)
        assert run.kept_epochs() == kept
        records = run.kept_evaluations()
        assert [r["checkpoint_epoch"] for r in records] == kept
        assert [r["train_time_s"] for r in records] == [run.train_seconds(e) for e in kept]
        assert records[0]["train_time_s"] < records[1]["train_time_s"]
        assert all(r["quality_protocol"]["samples"] == 100 for r in records)
        final = json.loads((run.path / "eval.json").read_text())
        assert final["quality_protocol"]["samples"] == 200  # the run's own record untouched
        if key.startswith("vae"):  # the tiny preset's timeline_evaluate: k 4, not the stage's 8
            assert final["k"] == 8 and all(r["k"] == 4 for r in records)
    runs = [(k, tiny_report / "runs" / k) for k in ("vae-z20", "gan-mlp", "flow-mlp")]
    panels = dict(quality_over_time(runs))
    assert set(panels["FID (genzoo features)"]) == {"vae-z20", "gan-mlp", "flow-mlp"}
    assert set(panels["-log p(x), nats (binarised test set)"]) == {"vae-z20"}
    assert set(panels["bits/dim (8-bit test set)"]) == {"flow-mlp"}
    assert panels["FID (genzoo features)"]["gan-mlp"][0][0] == 0.0  # the untrained GAN: 0 min
    md = (tiny_report / "report.md").read_text()
    assert "Quality against training time" in md and "100 samples" in md
    assert "NLLs with k = 4 importance samples" in md


def _stage_eval_seconds(run: Path) -> float:
    """What evaluating a stage cost: its eval.json's and its kept epochs' eval_time_s."""
    import json

    records = [run / "eval.json", *sorted(run.glob("eval_epoch*.json"))]
    return sum(json.loads(p.read_text())["eval_time_s"] for p in records)


def test_rerun_reuses_every_stage(tiny_report):
    import json

    kept = {p: p.stat().st_mtime_ns for p in tiny_report.glob("runs/*/eval_epoch*.json")}
    stages = json.loads((tiny_report / "stages.json").read_text())
    for key, entry in stages.items():  # the cost of the main and the kept evaluations
        assert entry["eval_s"] == pytest.approx(_stage_eval_seconds(tiny_report / "runs" / key))
        assert entry["train_s"] == RunDir(tiny_report / "runs" / key).train_seconds() > 0
    for record in kept:  # the kept epochs evaluated again, the main evaluation reused
        record.unlink()
    res = run_cli("reproduce", "--preset", "tiny", "--out", str(tiny_report), "--quiet", *ONE)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.count("reused") == 4
    again = json.loads((tiny_report / "stages.json").read_text())
    for key, entry in again.items():
        assert entry["eval_s"] == pytest.approx(_stage_eval_seconds(tiny_report / "runs" / key))
    kept = {p: p.stat().st_mtime_ns for p in tiny_report.glob("runs/*/eval_epoch*.json")}
    res = run_cli("reproduce", "--preset", "tiny", "--out", str(tiny_report), "--quiet", *ONE)
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(kept) == 8 and all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert json.loads((tiny_report / "stages.json").read_text()) == again  # nothing redone
    assert "left)" not in res.stdout  # no time-left guess from stages that cost nothing


def test_interrupted_stage_resumes(tiny_report, tmp_path):
    out = tmp_path / "again"
    shutil.copytree(tiny_report, out)
    ckpt = out / "runs" / "gan-mlp" / "checkpoints" / "last.pt"
    import torch

    state = torch.load(ckpt, weights_only=True)
    state["epochs_done"] = 1  # as if stopped after the first of two epochs
    torch.save(state, ckpt)
    res = run_cli("reproduce", "--preset", "tiny", "--out", str(out), "--quiet", *ONE)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "gan-mlp: resumed from epoch 1" in res.stdout
    # the training seconds are the epochs' (timings.jsonl), whatever stopped the invocations
    run = RunDir(out / "runs" / "gan-mlp")
    assert [r["epoch"] for r in run.read_timings()] == [1, 2]
    stages = json.loads((out / "stages.json").read_text())
    assert stages["gan-mlp"]["train_s"] == run.train_seconds()


def test_kl_examples_match_the_closed_form_and_the_report():
    rows = {r["label"]: r for r in kl_examples(200_000)}
    assert rows["zero"]["closed_form"] == 0
    assert abs(rows["small"]["closed_form"] - 1.5e-10) < 1e-14
    assert abs(rows["big"]["closed_form"] / 1e10 - 1) < 1e-4
    big = rows["big"]
    assert abs(big["monte_carlo"] - big["closed_form"]) < 5 * big["mc_stderr"]


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tiny_report, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    page = tmp_path / "check.html"
    probe = (
        "<script>window.__errors=[];window.addEventListener('error',e=>__errors.push(String("
        "e.message)));const ce=console.error;console.error=(...a)=>{__errors.push(a.join(' '));"
        "ce(...a)};window.addEventListener('load',()=>{const imgs=[...document.images];"
        "const bad=imgs.filter(i=>!i.complete||i.naturalWidth===0).length;"
        "document.body.setAttribute('data-check',`images=${imgs.length} broken=${bad} "
        "errors=${__errors.length}`)});</script>"
    )
    html = (tiny_report / "report.html").read_text().replace("<head>", "<head>" + probe, 1)
    page.write_text(html)
    res = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0", "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    match = re.search(r'data-check="images=(\d+) broken=(\d+) errors=(\d+)"', res.stdout)
    assert match, res.stderr[-2000:]
    images, broken, errors = map(int, match.groups())
    assert images == len(FIGURE_FILES) and broken == 0 and errors == 0
    assert "CONSOLE" not in res.stderr or ":ERROR:CONSOLE" not in res.stderr


@pytest.mark.slow  # ~60 s; tests/test_shapes.py keeps an RGB folder run in the default suite
def test_reproduce_on_a_folder_of_rgb_images(tmp_path):
    """``--dataset PATH``: every stage trains on the folder's 3x32x32 images, the VAE with the
    logistic likelihood its family picks for RGB, and no MNIST reference value is quoted."""
    import json

    from tests.test_data_sources import write_folder

    root = write_folder(tmp_path / "pics", n=30)
    out = tmp_path / "rep"
    res = run_cli(
        "reproduce", "--preset", "tiny", "--dataset", str(root), "--out", str(out),
        "--threads", "1", "--quiet", env={"GENZOO_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    for stage in PRESETS["tiny"].stages:
        cfg = json.loads((out / "runs" / stage.key / "config.json").read_text())
        assert cfg["shape"] == [3, 32, 32] and cfg["data"]["dataset"] == str(root.resolve())
        if cfg["family"] == "vae":
            assert cfg["model"]["likelihood"] == "logistic"
        record = json.loads((out / "runs" / stage.key / "eval.json").read_text())
        assert "quality_skipped" in record
    md = (out / "report.md").read_text()
    assert "(on pics)" in md and "(report: " not in md
    bad = run_cli("reproduce", "--preset", "tiny", "--image-size", "16", "--out", str(out))
    assert bad.returncode == 2 and "--dataset" in bad.stderr
