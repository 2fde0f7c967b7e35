"""Time one oracle call of each problem family."""

import numpy as np

import problems


class LogisticOracles:
    def setup(self):
        self.problem = problems.get("logistic", n_samples=10_000, n_features=100, batch_size=256)
        self.x = self.problem.x0(0)
        self.batch = self.problem.minibatch(np.random.default_rng(0))

    def time_full_gradient(self):
        self.problem.grad(self.x)

    def time_minibatch_draw_and_gradient(self):
        self.problem.minibatch(np.random.default_rng(1)).grad(self.x)

    def time_minibatch_gradient(self):
        self.batch.grad(self.x)

    def time_hessian(self):
        self.problem.hess(self.x)


class MLPOracles:
    params = [[False, True]]
    param_names = ["batchnorm"]

    def setup(self, batchnorm):
        self.problem = problems.get("mlp", dataset="digits", hidden=[128, 128], batch_size=256,
                                    batchnorm=batchnorm)
        self.x = self.problem.x0(0)
        self.batch = self.problem.minibatch(np.random.default_rng(0))

    def time_forward_backward_batch256(self, batchnorm):
        self.batch.grad(self.x)

    def time_metrics(self, batchnorm):
        self.problem.metrics(self.x)


class QuadraticOracles:
    params = [[100, 1000]]
    param_names = ["dim"]

    def setup(self, dim):
        self.problem = problems.get("quadratic", dim=dim)
        self.x = self.problem.x0(0)

    def time_gradient(self, dim):
        self.problem.grad(self.x)

    def time_hessian(self, dim):
        self.problem.hess(self.x)


class RosenbrockOracles:
    def setup(self):
        self.problem = problems.get("rosenbrock", dim=100)
        self.x = self.problem.x0(0)

    def time_gradient(self):
        self.problem.grad(self.x)

    def time_hessian(self):
        self.problem.hess(self.x)
