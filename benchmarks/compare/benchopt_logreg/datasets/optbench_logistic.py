"""benchopt dataset: the data of ``problems.get("logistic", ..., batch_size=None)``.

X (intercept column last), y in {-1, +1}, reg and the initial point
``w0 = problem.x0(0)`` come from optbench's own problem object, so both sides of the
comparison see identical arrays (see problems/logistic.py for how the synthetic data
are drawn from the seed).
"""

import problems
from benchopt import BaseDataset


class Dataset(BaseDataset):
    name = "optbench-logistic"
    requirements = []
    parameters = {
        "n_samples": [1000],
        "n_features": [20],
        "reg": [1e-3],
        "standardize": [True],
        "seed": [0],
    }
    test_parameters = {"n_samples": [50], "n_features": [3]}

    def get_data(self):
        problem = problems.get(
            "logistic", n_samples=self.n_samples, n_features=self.n_features, reg=self.reg,
            batch_size=None, standardize=self.standardize, seed=self.seed,
        )
        return dict(X=problem.X, y=problem.y, reg=problem.reg, w0=problem.x0(0))
