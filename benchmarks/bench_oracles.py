"""Time one oracle call of each problem family.

``loss_and_grad`` is the fused oracle (one product with the data for the loss and the
gradient); ``*Precision`` classes time the same calls in float64 and float32.
"""

import numpy as np

import problems


class LogisticOracles:
    def setup(self):
        self.problem = problems.get("logistic", n_samples=10_000, n_features=100, batch_size=256)
        self.x = self.problem.x0(0)
        self.batch = self.problem.minibatch(np.random.default_rng(0))

    def time_full_gradient(self):
        self.problem.grad(self.x)

    def time_full_loss_and_grad(self):
        self.problem.loss_and_grad(self.x)

    def time_minibatch_loss_and_grad(self):
        self.batch.loss_and_grad(self.x)

    def time_minibatch_draw_and_gradient(self):
        self.problem.minibatch(np.random.default_rng(1)).grad(self.x)

    def time_minibatch_gradient(self):
        self.batch.grad(self.x)

    def time_hessian(self):
        self.problem.hess(self.x)


class LogisticPrecision:
    """Goal 5's size (n=20000, d=200, full batch): the fused oracle, the two separate
    calls and the two matrix-vector products ``X @ w``, ``X.T @ r`` it needs (on a
    random matrix of the same shape and dtype), in float64 and float32."""

    params = [["float64", "float32"]]
    param_names = ["dtype"]

    def setup(self, dtype):
        self.problem = problems.get("logistic", n_samples=20_000, n_features=200,
                                    batch_size=None, dtype=dtype)
        self.x = self.problem.x0(0)
        rng = np.random.default_rng(1)
        self.a = rng.standard_normal((20_000, 201)).astype(dtype)
        self.w = rng.standard_normal(201).astype(dtype)
        self.r = rng.standard_normal(20_000).astype(dtype)

    def time_loss_and_grad(self, dtype):
        self.problem.loss_and_grad(self.x)

    def time_loss_then_grad(self, dtype):
        self.problem.loss(self.x)
        self.problem.grad(self.x)

    def time_two_matvecs(self, dtype):
        self.a @ self.w
        self.a.T @ self.r


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

    def time_loss_and_grad_batch256(self, batchnorm):
        self.batch.loss_and_grad(self.x)

    def time_metrics(self, batchnorm):
        self.problem.metrics(self.x)


class MLPPrecision:
    """The digits net [128, 128] on a minibatch of 256, in float64 and float32."""

    params = [["float64", "float32"]]
    param_names = ["dtype"]

    def setup(self, dtype):
        self.problem = problems.get("mlp", dataset="digits", hidden=[128, 128], batch_size=256,
                                    dtype=dtype)
        self.x = self.problem.x0(0)
        self.batch = self.problem.minibatch(np.random.default_rng(0))

    def time_loss_and_grad_batch256(self, dtype):
        self.batch.loss_and_grad(self.x)


class QuadraticOracles:
    params = [[100, 1000]]
    param_names = ["dim"]

    def setup(self, dim):
        self.problem = problems.get("quadratic", dim=dim)
        self.x = self.problem.x0(0)

    def time_gradient(self, dim):
        self.problem.grad(self.x)

    def time_loss_and_grad(self, dim):
        self.problem.loss_and_grad(self.x)

    def time_hessian(self, dim):
        self.problem.hess(self.x)


class QuadraticPrecision:
    """A rotated quadratic (dim 1000) and a diagonal one (dim 1e6) in both precisions:
    the fused oracle, and the peak memory of building the rotated one."""

    params = [["float64", "float32"]]
    param_names = ["dtype"]

    def setup(self, dtype):
        self.dense = problems.get("quadratic", dim=1000, dtype=dtype)
        self.diagonal = problems.get("quadratic", dim=10**6, rotate=False, dtype=dtype)
        self.x_dense = self.dense.x0(0)
        self.x_diagonal = self.diagonal.x0(0)

    def time_dense_loss_and_grad(self, dtype):
        self.dense.loss_and_grad(self.x_dense)

    def time_diagonal_loss_and_grad(self, dtype):
        self.diagonal.loss_and_grad(self.x_diagonal)

    def peakmem_build_dense(self, dtype):
        problems.get("quadratic", dim=1000, seed=1, dtype=dtype)


class RosenbrockOracles:
    def setup(self):
        self.problem = problems.get("rosenbrock", dim=100)
        self.x = self.problem.x0(0)

    def time_gradient(self):
        self.problem.grad(self.x)

    def time_loss_and_grad(self):
        self.problem.loss_and_grad(self.x)

    def time_hessian(self):
        self.problem.hess(self.x)
