"""Section 1.5 of the report: KL(N(mu, sigma^2) || N(0, 1)) for its (sigma, mu) examples, in
closed form and by Monte Carlo."""

from __future__ import annotations

import math

import torch

from genzoo.maths import gaussian_kl

__all__ = ["REPORT_EXAMPLES", "kl_examples"]

# (label, sigma, mu, the report's printed value); the report writes each pair as (sigma, mu)
REPORT_EXAMPLES = (
    ("big", 1 + 1e5, 1e5, 1.0e10),
    ("small", 1 + 1e-5, 1e-5, 1.49e-10),
    ("zero", 1.0, 0.0, 0.0),
)


def kl_examples(mc_samples: int = 1_000_000, seed: int = 0) -> list[dict[str, float]]:
    """Closed-form KL (float64) and a Monte-Carlo estimate with its standard error per example.

    The Monte-Carlo estimate averages ``log q(z) - log p(z)`` over ``z ~ q``; its error shows
    why a closed form is used in training (for the tiny example it is hopeless).
    """
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for label, sigma, mu, printed in REPORT_EXAMPLES:
        mu_t = torch.tensor([[mu]], dtype=torch.float64)
        logvar = torch.tensor([[2 * math.log(sigma)]], dtype=torch.float64)
        closed = float(gaussian_kl(mu_t, logvar))
        eps = torch.randn(mc_samples, generator=gen, dtype=torch.float64)
        z = mu + sigma * eps
        # log q(z) - log p(z) = -log sigma - eps^2 / 2 + z^2 / 2
        terms = -math.log(sigma) - 0.5 * eps**2 + 0.5 * z**2
        rows.append(
            {
                "label": label,
                "sigma": sigma,
                "mu": mu,
                "closed_form": closed,
                "monte_carlo": float(terms.mean()),
                "mc_stderr": float(terms.std() / math.sqrt(mc_samples)),
                "report": printed,
            }
        )
    return rows
