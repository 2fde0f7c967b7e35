"""benchopt solver: scipy's L-BFGS-B on the full objective, ``maxiter = n_iter``.

The options are those of optbench's ``lbfgs`` at its defaults (``maxcor=10``,
``gtol=1e-5``, ``ftol=2.220446049250313e-09``, ``maxls=20``) and scipy evaluates
``(logistic_loss, logistic_grad)`` from problems/logistic.py, as optbench's adapter
does, so the iterate after ``n_iter`` iterations is optbench's trace row ``n_iter``
(or its last row, once scipy has stopped by its own tests).  ``run(0)`` returns
``w0``.  ``NoCriterion``: the curve has exactly ``--max-runs`` points.
"""

import numpy as np
import scipy.optimize
from benchopt import BaseSolver
from benchopt.stopping_criterion import NoCriterion
from problems.logistic import logistic_grad, logistic_loss


class Solver(BaseSolver):
    name = "lbfgs"
    requirements = []
    sampling_strategy = "iteration"
    stopping_criterion = NoCriterion()
    parameters = {}

    def set_objective(self, yx, reg, w0):
        self.yx, self.reg, self.w0 = yx, reg, w0

    def _fun_and_grad(self, w):
        return logistic_loss(self.yx, w, self.reg), logistic_grad(self.yx, w, self.reg)

    def run(self, n_iter):
        if n_iter == 0:
            self.w = np.array(self.w0, dtype=np.float64, copy=True)
            return
        result = scipy.optimize.minimize(
            self._fun_and_grad, self.w0, jac=True, method="L-BFGS-B",
            options={"maxcor": 10, "gtol": 1e-5, "ftol": 2.220446049250313e-09, "maxls": 20,
                     "maxiter": int(n_iter)},
        )
        self.w = result.x

    def get_result(self):
        return dict(w=self.w)
