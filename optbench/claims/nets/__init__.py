"""Claims 10-14: the lecture's neural-network practice as seeded experiments.

One module per claim, each with its experiment, statistics, criterion and ``CLAIM``:

10. :mod:`.weight_initialization`: activations vanish (small init), saturate (large
    init) or stay well spread (Xavier, He) at initialisation, and learning follows,
    in deep nets (the depth is swept; the deep ones decide);
11. :mod:`.input_normalization`: normalising the inputs gives easier optimisation
    (and, as the check ``input-normalization-conditioning``, a better conditioned
    loss);
12. :mod:`.batchnorm_lr_range`: with batch normalisation a deep net trains over a
    wider range of learning rates (the depth is swept; the deep ones decide);
13. :mod:`.ensembles`: independent ensembles, snapshot ensembles and Polyak averaging
    (after a burn-in) each give a small, consistent gain in validation accuracy;
14. :mod:`.random_vs_grid_search`: with one hyper-parameter that matters among
    several that barely do, random search finds a better value than a grid (placed
    at a random offset) of the same budget.

Shared by the claims: :mod:`.paired_statistics` (seeded bootstrap intervals, paired
ratios, the side of an interval, their text) and :mod:`.run_tables` (arm names, tuning
seeds, which depths are deep, final values, failed runs).  Every verdict comes from a stated statistic with a
percentile bootstrap interval over run seeds, never from one run: a diverged run
scores ``+inf``, a failed run drops out of its pair (the summary counts it), and
"holds" needs the interval entirely on the claimed side.  The figures of these claims
are drawn by the report (its ``claim_figures`` package, by claim key): this package
draws nothing.
"""

from __future__ import annotations

from ..base import Claim
from . import (batchnorm_lr_range, ensembles, input_normalization, random_vs_grid_search,
               weight_initialization)

__all__ = ["CLAIMS"]

CLAIMS: list[Claim] = [
    weight_initialization.CLAIM,
    input_normalization.CLAIM,
    input_normalization.CHECK,
    batchnorm_lr_range.CLAIM,
    ensembles.CLAIM,
    random_vs_grid_search.CLAIM,
]
