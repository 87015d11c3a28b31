"""Pure tensor maths shared by every family and by evaluation: densities, divergences, log-space
reductions and unit conversions, each defined once with one sign convention.

Imports nothing from genzoo but ``genzoo.errors`` at most, so any module may import it. Every
log-density and likelihood here is in nats; a negative log-likelihood (NLL) is ``-log p``.
"""

from genzoo.maths.gaussian import LOG_2PI, gaussian_kl, gaussian_log_prob, standard_normal_log_prob
from genzoo.maths.logspace import LN2, bits_per_dim, log_mean_exp

__all__ = [
    "LOG_2PI",
    "LN2",
    "bits_per_dim",
    "log_mean_exp",
    "standard_normal_log_prob",
    "gaussian_log_prob",
    "gaussian_kl",
]
