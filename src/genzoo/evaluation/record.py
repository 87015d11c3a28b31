"""The common names of likelihood metrics in ``eval.json``, whatever a family calls them.

Families report their own keys (the VAE ``nll``, ``nll_bits_per_dim``, ``neg_elbo``; the flow
``nats``, ``bpd``); ``genzoo evaluate`` adds the common keys ``nll_nats``, ``bpd`` and
``neg_elbo_nats`` from the first alias present, so ``genzoo compare`` reads one set of names.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALIASES", "standardise"]

# common key -> the family keys it may come from, in order of preference
ALIASES: dict[str, tuple[str, ...]] = {
    "nll_nats": ("nll_nats", "nll", "nats"),
    "bpd": ("bpd", "nll_bits_per_dim"),
    "neg_elbo_nats": ("neg_elbo_nats", "neg_elbo"),
}


def standardise(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` plus the common keys found under one of their aliases (originals kept)."""
    out = dict(metrics)
    for key, aliases in ALIASES.items():
        if out.get(key) is None:
            value = next((metrics[a] for a in aliases if metrics.get(a) is not None), None)
            if value is not None:
                out[key] = value
    return out
