"""Time one step of every stepwise optimizer on flat float64 vectors."""

import numpy as np

import optimizers

STEPWISE = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
HYPER = {"sgd": {"lr": 1e-3}, "momentum": {"lr": 1e-3}, "nesterov": {"lr": 1e-3},
         "adagrad": {"lr": 1e-2}, "rmsprop": {"lr": 1e-3}, "adam": {"lr": 1e-3}}


class FixedGradient:
    """An oracle whose gradient is a stored vector: the step's own cost is timed."""

    def __init__(self, g):
        self.g = g

    def grad(self, x):
        return self.g


class OptimizerStep:
    params = (STEPWISE, [1_000, 1_000_000])
    param_names = ["optimizer", "dim"]

    def setup(self, name, dim):
        rng = np.random.default_rng(0)
        self.opt = optimizers.get(name, **HYPER[name])
        self.x = rng.standard_normal(dim)
        self.oracle = FixedGradient(rng.standard_normal(dim))
        self.state = self.opt.init(self.x)

    def time_step(self, name, dim):
        self.opt.step(self.x, self.oracle, self.state)


class NewtonStep:
    params = [[10, 100, 300]]
    param_names = ["dim"]

    def setup(self, dim):
        import problems

        self.problem = problems.get("quadratic", dim=dim, condition_number=1e3)
        self.opt = optimizers.get("newton")
        self.x = self.problem.x0(0)
        self.state = self.opt.init(self.x)

    def time_step(self, dim):
        self.opt.step(self.x.copy(), self.problem, self.state)
