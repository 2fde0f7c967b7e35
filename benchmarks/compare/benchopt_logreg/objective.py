"""benchopt objective: optbench's L2-regularised logistic regression, the same formula.

``f(w) = 1/n sum_i log(1 + exp(-y_i w . x_i)) + reg/2 |w|^2`` with labels in {-1, +1},
the rows ``x_i`` carrying optbench's intercept column (last) and the intercept
regularised like the other weights.  The value is computed by optbench's own
:func:`problems.logistic.logistic_loss` on ``yx = X * y[:, None]``, the label-folded
rows that :class:`problems.logistic.Logistic` builds the same way, so a benchopt
curve point and an optbench trace row at the same iterate are the same float.

Solvers receive ``yx``, ``reg`` and the initial point ``w0`` (optbench's
``problem.x0(0)``); their result is the weight vector ``w``.
"""

import numpy as np
from benchopt import BaseObjective
from problems.logistic import logistic_loss


class Objective(BaseObjective):
    name = "optbench-logistic-l2"
    min_benchopt_version = "1.10"
    requirements = []
    parameters = {}

    def set_data(self, X, y, reg, w0):
        self.yx = X * y[:, None]
        self.reg = reg
        self.w0 = w0

    def get_objective(self):
        return dict(yx=self.yx, reg=self.reg, w0=self.w0)

    def evaluate_result(self, w):
        return dict(value=logistic_loss(self.yx, w, self.reg))

    def get_one_result(self):
        return dict(w=np.zeros(self.yx.shape[1]))
