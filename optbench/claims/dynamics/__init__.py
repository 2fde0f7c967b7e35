"""Claims 1-5 of the lecture: the dynamics of SGD, momentum, Nesterov, AdaGrad and RMSProp.

1. ``momentum-ill-conditioned`` (:mod:`.momentum_ill_conditioned`): on an
   ill-conditioned quadratic momentum needs far fewer steps than gradient descent, and
   its step count grows more slowly with the condition number (``~ sqrt(kappa)``
   against ``~ kappa``).
2. ``momentum-escapes-saddle`` (:mod:`.momentum_escapes_saddle`): near a saddle
   gradient descent crawls; momentum leaves the saddle's neighbourhood sooner, judged
   at the same lr and at the same effective step ``lr / (1 - rho)``.
3. ``momentum-averages-noise`` (:mod:`.momentum_averages_noise`): with noisy gradients
   momentum's path is smoother than SGD's (consecutive steps point more nearly the same
   way), at the same lr and at the same effective step; the noise floors are reported.
4. ``nesterov-vs-momentum`` (:mod:`.nesterov_vs_momentum`): Nesterov momentum needs at
   most 5% more steps than plain momentum with the same ``lr`` and ``rho`` on convex
   quadratics, per (kappa, rho).
5. ``adagrad-stalls`` (:mod:`.adagrad_stalls`): AdaGrad's step keeps shrinking and it
   stalls on a long run of a net whose gradients shrink; RMSProp does not (per step
   budget, each at its rate tuned for the budget).

Each claim's module holds its experiment (constants, ``arms``), the statistics its
criterion and its figure read, its ``criterion`` and ``CLAIM``; the figures are drawn
with the report's other figures (``claim_figures/dynamics.py``, which imports these
statistics: the harness never imports the report).  Every criterion works on paired
per-seed statistics (the arms of one claim share their seeds, hence their problem
instances and initial points), summarised by the median with a percentile bootstrap
interval (:func:`optbench.statistics.bootstrap_ci`, 95 %, 2000 resamples, a Generator
seeded by the claim's number: :mod:`.paired_statistics`).  A run that diverged counts
as the worst outcome (``+inf`` steps or loss); a run that raised (status ``"error"``)
or is missing has no value and its seed drops out of the pairs; summaries say how many
of each there were (:mod:`.run_tables`).
"""

from __future__ import annotations

from ..base import Claim
from . import (adagrad_stalls, momentum_averages_noise, momentum_escapes_saddle, momentum_ill_conditioned,
               nesterov_vs_momentum)

__all__ = ["CLAIMS"]

CLAIMS: list[Claim] = [
    momentum_ill_conditioned.CLAIM,
    momentum_escapes_saddle.CLAIM,
    momentum_averages_noise.CLAIM,
    nesterov_vs_momentum.CLAIM,
    adagrad_stalls.CLAIM,
]
