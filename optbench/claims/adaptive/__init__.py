"""Claims 6-9 of the lecture, on adaptive and second-order methods.

One module per claim, each with its experiment (arms), its statistics and its
criterion, and ``CLAIM``:

- :mod:`~optbench.claims.adaptive.adam_bias_correction`, claim 6: Adam's bias
  correction makes its first step about the learning rate;
- :mod:`~optbench.claims.adaptive.adam_good_default`, claim 7: untuned Adam
  (lr 1e-3) is a good default, judged against the step budget where the tuned methods
  have converged;
- :mod:`~optbench.claims.adaptive.step_decay`, claim 8: step decay lowers
  SGD+momentum's final loss, with drops at the cuts, judged per minibatch size (the
  gradient noise), with full batch as a control outside the verdict;
- :mod:`~optbench.claims.adaptive.newton_and_lbfgs`, claim 9: Newton converges in
  few iterations without a learning rate; L-BFGS works in full batch, poorly with
  minibatches.

:mod:`~optbench.claims.adaptive.run_tables` (arms, runs as tables, leave-one-seed-out
selection) and :mod:`~optbench.claims.adaptive.intervals` (medians with bootstrap
intervals) hold what they share.  Their figures are drawn by the report package
(its ``claim_figures.adaptive`` module), which imports the statistics from here;
nothing here imports the report.

Every claim here follows the same conventions.

Gap
    The quantity compared is the *gap* ``loss - f_star`` (the trace's ``subopt``) on
    problems with a known optimum; on the nets, whose optimum is unknown, the training
    loss itself (a net's loss is >= 0, so the loss bounds its gap from above).  Gaps
    below :data:`~optbench.claims.adaptive.run_tables.GAP_FLOOR` count as ``GAP_FLOOR``
    (the loss is only known to about that precision), so that a ratio of two solved
    runs is 1, not 0/0.
Diverged and failed runs
    A diverged run's gap is ``+inf`` (the worst outcome, kept in every median and
    interval); a run that raised (status ``"error"``, no trace) has no value and is
    left out of its pairs; summaries say how many were.
Tuning by leave-one-seed-out
    Where a method is tuned on a learning-rate grid, every grid point runs on every
    seed, and the value reported for seed ``s`` is that of the grid point with the
    lowest geometric-mean gap over the *other* seeds (ties: the smaller rate).  So no seed's
    result is chosen by looking at that seed, and all seeds are evaluation seeds.
Intervals
    Medians come with percentile-bootstrap 95% intervals
    (:func:`optbench.statistics.bootstrap_ci`, 2000 resamples) from a
    ``numpy.random.Generator`` seeded per claim, so a verdict is reproducible.
"""

from __future__ import annotations

from ..base import Claim
from . import adam_bias_correction, adam_good_default, newton_and_lbfgs, step_decay
from .run_tables import GAP_FLOOR, loso_select, run_values, runs_of

__all__ = ["CLAIMS", "GAP_FLOOR", "loso_select", "run_values", "runs_of"]

#: The claims of this family, in number order.
CLAIMS: list[Claim] = [adam_bias_correction.CLAIM, adam_good_default.CLAIM, step_decay.CLAIM,
                       newton_and_lbfgs.CLAIM]
