"""benchopt solver: gradient descent with a fixed step, ``w <- w - lr * grad f(w)``.

The step is optbench's ``sgd`` update on the full batch (``x -= lr * g``, in place),
and the gradient is optbench's :func:`problems.logistic.logistic_grad`.  ``run(n_iter)``
starts from ``w0`` every time (benchopt's "iteration" sampling) and stops early at
the first iterate whose full-gradient norm is ``<= tol_grad``: the same test, at the
same iterates, as ``optbench.run(..., tol_grad=1e-10, record_every=1)``, so both
return ``x_min(n_iter, K)`` with ``K`` the first step where the test holds.

``NoCriterion``: the curve has exactly ``--max-runs`` points (benchopt's default
criterion would end it once the objective stops improving).
"""

import numpy as np
from benchopt import BaseSolver
from benchopt.stopping_criterion import NoCriterion
from problems.logistic import logistic_grad


class Solver(BaseSolver):
    name = "gd"
    requirements = []
    sampling_strategy = "iteration"
    stopping_criterion = NoCriterion()
    parameters = {"lr": [1.0], "tol_grad": [1e-10]}

    def set_objective(self, yx, reg, w0):
        self.yx, self.reg, self.w0 = yx, reg, w0

    def run(self, n_iter):
        w = np.array(self.w0, dtype=np.float64, copy=True)
        for _ in range(n_iter):
            g = logistic_grad(self.yx, w, self.reg)
            if float(np.linalg.norm(g)) <= self.tol_grad:
                break
            w -= self.lr * g
        self.w = w

    def get_result(self):
        return dict(w=self.w)
