"""Quality against training time (``genzoo.runs.timeline``) from kept-epoch records."""

from __future__ import annotations

import json

from genzoo.runs.timeline import importance_samples, quality_over_time


def _run(path, records):
    """A run folder with a kept checkpoint and its evaluation record per entry of ``records``."""
    (path / "checkpoints").mkdir(parents=True)
    for r in records:
        epoch = r["checkpoint_epoch"]
        (path / "checkpoints" / f"epoch{epoch:03d}.pt").write_bytes(b"")
        (path / f"eval_epoch{epoch:03d}.json").write_text(json.dumps(r))
    return path


def test_panels_keep_bounds_and_views_apart(tmp_path):
    """A flow's exact bits/dim and a diffusion model's bound share the 8-bit panel, the bound
    labelled as one; a binarised NLL gets its own panel; FID has every run."""
    flow = _run(tmp_path / "flow", [
        {"checkpoint_epoch": e, "train_time_s": 60.0 * e, "data_view": "uint8", "bpd": b,
         "fid": f} for e, b, f in ((1, 1.4, 90.0), (2, 1.2, 70.0))
    ])  # fmt: skip
    ddpm = _run(tmp_path / "ddpm", [
        {"checkpoint_epoch": 3, "train_time_s": 120.0, "data_view": "signed", "bpd": 1.7,
         "bpd_is_bound": True, "fid": 30.0},
    ])  # fmt: skip
    vae = _run(tmp_path / "vae", [
        {"checkpoint_epoch": 1, "train_time_s": 30.0, "data_view": "binary", "nll_nats": 90.0,
         "k": 500, "fid": 50.0},
    ])  # fmt: skip
    panels = dict(quality_over_time([("flow", flow), ("ddpm", ddpm), ("vae", vae)]))
    assert panels["FID (genzoo features)"] == {
        "flow": ([1.0, 2.0], [90.0, 70.0]), "ddpm": ([2.0], [30.0]), "vae": ([0.5], [50.0]),
    }  # fmt: skip
    assert panels["bits/dim (8-bit test set)"] == {
        "flow": ([1.0, 2.0], [1.4, 1.2]), "ddpm (bound)": ([2.0], [1.7]),
    }  # fmt: skip
    assert panels["-log p(x), nats (binarised test set)"] == {"vae": ([0.5], [90.0])}
    assert importance_samples([("flow", flow), ("vae", vae)]) == [500]
