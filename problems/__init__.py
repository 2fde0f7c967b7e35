"""Test problems for optbench: quadratics, saddles, Rosenbrock, logistic regression,
small neural nets.

``problems.get(name, **params)`` builds one; ``problems.names()`` lists the families;
``problems.register(name, factory)`` adds a user-defined family.
"""

from .base import Oracle, Problem
from .logistic import Logistic, LogisticBatchOracle
from .mlp import MLP, MLPBatchOracle
from .quadratic import NoisyQuadraticOracle, Quadratic
from .registry import factory, get, names, register
from .rosenbrock import Rosenbrock
from .saddle import Saddle

register("quadratic", Quadratic)
register("saddle", Saddle)
register("rosenbrock", Rosenbrock)
register("logistic", Logistic)
register("mlp", MLP)

__all__ = [
    "Logistic",
    "LogisticBatchOracle",
    "MLP",
    "MLPBatchOracle",
    "NoisyQuadraticOracle",
    "Oracle",
    "Problem",
    "Quadratic",
    "Rosenbrock",
    "Saddle",
    "factory",
    "get",
    "names",
    "register",
]
