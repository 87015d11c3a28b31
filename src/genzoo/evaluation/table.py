"""The cross-family comparison table of ``genzoo compare``: rows from ``eval.json`` records,
the real-vs-real floor, and notes on which numbers may be compared with which.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from typing import Any

__all__ = [
    "COLUMNS",
    "comparison_rows",
    "comparison_notes",
    "row_cells",
    "render_markdown",
    "render_csv",
]

_DATA = {
    "binary": "binarised",
    "uint8": "8-bit",
    "unit": "[0,1] float",
    "signed": "[-1,1] float",
}


def _num(fmt: str) -> Callable[[Any], str]:
    def f(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        return format(v, fmt)

    return f


def _kid(row: dict[str, Any]) -> str:
    if row.get("kid") is None:
        return "-"
    std = row.get("kid_std")
    return f"{row['kid']:.3g}" + (f" ± {std:.2g}" if std is not None else "")


def _int(v: Any) -> str:
    return "-" if v is None else f"{int(v):,}"


# (key in the row, markdown header, markdown formatter of the value)
COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("name", "run", str),
    ("family", "family", str),
    ("arch", "arch", lambda v: "-" if v is None else str(v)),
    ("data", "likelihood data", str),
    ("ref", "quality vs", str),
    ("parameters", "params", _int),
    ("train_time_s", "train s", _num(".0f")),
    ("samples_per_s", "samples/s", _num(".0f")),
    ("nll_nats", "NLL nats", _num(".2f")),
    ("bpd", "bits/dim", _num(".4f")),
    ("neg_elbo_nats", "-ELBO nats", _num(".2f")),
    ("fid", "FID", _num(".3f")),
    ("kid", "KID ± std", str),  # rendered by _kid from kid and kid_std
    ("precision", "precision", _num(".3f")),
    ("recall", "recall", _num(".3f")),
    ("class_kl", "class KL", _num(".4f")),
    ("rarest_class_share", "rarest class", _num(".3f")),
]


_REF = {"unit": "8-bit test", "binary": "binarised test"}


def _ref(protocol: dict[str, Any] | None) -> str:
    if not protocol:
        return "-"
    view = protocol.get("view") or (protocol.get("reference") or {}).get("view", "unit")
    return _REF.get(view, str(view))


def comparison_rows(
    evals: list[tuple[str, dict[str, Any]]], floors: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One row per ``(run name, eval.json record)``, then one per floor (real vs real)."""
    rows = []
    for name, ev in evals:
        row = {k: ev.get(k) for k, _, _ in COLUMNS}
        row["name"] = name
        row["family"] = ev.get("family", "?")
        view = ev.get("likelihood_view") or ev.get("data_view")  # the data the NLL is of
        row["data"] = _DATA.get(view, view or "-") + (" (bound)" if ev.get("bpd_is_bound") else "")
        if all(ev.get(k) is None for k in ("bpd", "nll_nats", "neg_elbo_nats")):
            row["data"] = "-"  # no likelihood reported (e.g. a GAN)
        row["kid_std"] = ev.get("kid_std")
        row["ref"] = _ref(ev.get("quality_protocol"))
        rows.append(row)
    for floor in floors or []:
        row = {k: floor.get(k) for k, _, _ in COLUMNS}
        row.update(name=floor.get("name", "real (train vs test)"), family="real data", data="-")
        row["kid_std"] = floor.get("kid_std")
        row["ref"] = _ref(floor.get("quality_protocol"))
        rows.append(row)
    return rows


def comparison_notes(
    evals: list[tuple[str, dict[str, Any]]], floors: list[dict[str, Any]] | None = None
) -> list[str]:
    """What may be compared: likelihoods only on the same data; quality only on one protocol."""
    notes = []
    views = {
        _DATA.get(v := ev.get("likelihood_view") or ev.get("data_view"), v)
        for _, ev in evals
        if ev.get("bpd") is not None or ev.get("nll_nats") is not None
    }
    notes.append(
        "NLL and bits/dim compare only between rows on the same 'likelihood data': a Bernoulli "
        "VAE's are on binarised images (a different density problem), a flow's and a "
        "discretised-logistic VAE's on the 8-bit images (with the 8-bit quantisation term). "
        "-ELBO is an upper bound on the NLL, not an NLL, and so are NLL and bits/dim on rows "
        "marked '(bound)'."
        + (f" Here: {', '.join(sorted(v for v in views if v))}." if views else "")
    )
    protocols = _protocol_groups(evals)
    if protocols:
        notes.append(_quality_note(evals, protocols))
        by_data: dict[str, list[str]] = {}
        for key, names in protocols.items():
            by_data.setdefault(key[0], []).extend(names)
        if len(by_data) > 1:
            groups = "; ".join(f"{d}: {', '.join(names)}" for d, names in by_data.items())
            notes.append(
                f"Runs on different data sets ({groups}): their sample-quality numbers compare "
                "only within one data set, each against that data set's floor."
            )
        if len(protocols) > len(by_data):
            groups = "; ".join(
                f"{', '.join(names)}: {s} samples, seed {seed}, k={kk}"
                for (_, s, seed, kk, _), names in protocols.items()
            )
            notes.append(f"WARNING: runs were evaluated under different protocols ({groups}).")
    skipped = [f"{n} ({ev['quality_skipped']})" for n, ev in evals if ev.get("quality_skipped")]
    if skipped:
        notes.append("No sample-quality metrics for: " + "; ".join(skipped) + ".")
    for floor in floors or []:
        fp = floor.get("quality_protocol", {})
        key = (fp.get("samples"), fp.get("seed"), fp.get("k"), fp.get("network_sha256"))
        if key not in {run_key[1:] for run_key in protocols}:
            notes.append(f"WARNING: the floor row {floor.get('name')} uses another protocol.")
    return notes


def source_label(reference: dict[str, Any]) -> str:
    """The data a quality protocol's ``reference`` names: ``"mnist"``, ``"pics (16x16, grey)"``."""
    extra = []
    if reference.get("image_size"):
        extra.append(f"{reference['image_size']}x{reference['image_size']}")
    if reference.get("image_channels"):
        extra.append("grey" if reference["image_channels"] == 1 else "RGB")
    name = reference.get("dataset") or "mnist"
    return f"{name} ({', '.join(extra)})" if extra else name


def _protocol_groups(evals: list[tuple[str, dict[str, Any]]]) -> dict[tuple, list[str]]:
    """Run names by ``(data set, samples, seed, k, network sha256)`` of their quality protocol."""
    groups: dict[tuple, list[str]] = {}
    for name, ev in evals:
        p = ev.get("quality_protocol")
        if p is not None:
            source = source_label(p.get("reference") or {})
            key = (source, p.get("samples"), p.get("seed"), p.get("k"), p.get("network_sha256"))
            groups.setdefault(key, []).append(name)
    return groups


def _quality_note(
    evals: list[tuple[str, dict[str, Any]]], protocols: dict[tuple, list[str]]
) -> str:
    """What the sample-quality columns are: the evaluation network(s), samples, reference."""
    (_, samples, _, k, _), *_ = protocols
    networks = dict.fromkeys(f"{d} (sha256 {str(sha)[:12]}...)" for d, *_, sha in protocols)
    first_ref = next(
        (ev["quality_protocol"].get("reference") or {})
        for _, ev in evals
        if ev.get("quality_protocol") is not None
    )
    images = first_ref.get("images") if len(networks) == 1 else None
    against = f"the {images:,} test images" if images else "the test images"
    which = "network for" if len(networks) == 1 else "networks for each run's data set:"
    return (
        f"FID, KID, precision/recall (k={k}) and class coverage use the penultimate features "
        f"and predictions of genzoo's own evaluation {which} {', '.join(networks)}, not "
        f"Inception: they compare across families and with the real-vs-real floor, not with "
        f"published FIDs. {samples} samples against {against}; "
        "KID is shown with its std over subsets. Models of binarised data draw binary "
        "samples and are measured "
        "against the fixed binarisation of the test set ('quality vs'), the others against "
        "the 8-bit test images; read each against the real-vs-real floor of its reference "
        "(the best a model can be expected to reach)."
    )


def row_cells(row: dict[str, Any]) -> list[str]:
    """The formatted cells of one comparison row, in ``COLUMNS`` order."""
    return [_kid(row) if k == "kid" else fmt(row.get(k)) for k, _, fmt in COLUMNS]


def render_markdown(rows: list[dict[str, Any]], notes: list[str]) -> str:
    """A GitHub-flavoured markdown table followed by the notes."""
    header = "| " + " | ".join(h for _, h, _ in COLUMNS) + " |"
    sep = (
        "|"
        + "|".join(
            "---" if k in ("name", "family", "arch", "data", "ref") else "---:"
            for k, _, _ in COLUMNS
        )
        + "|"
    )
    lines = [header, sep]
    for row in rows:
        lines.append("| " + " | ".join(row_cells(row)) + " |")
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def render_csv(rows: list[dict[str, Any]], notes: list[str] | None = None) -> str:
    """CSV with full-precision numbers (``kid_std`` as its own column); notes are left out."""
    keys = [k for k, _, _ in COLUMNS]
    keys.insert(keys.index("kid") + 1, "kid_std")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in keys})
    return buf.getvalue()
