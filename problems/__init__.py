"""Test problems for optbench: quadratics, saddles, Rosenbrock, logistic regression.

``problems.get(name, **params)`` builds one; ``problems.names()`` lists the families;
``problems.register(name, factory)`` adds a user-defined family.
"""

from .base import Oracle, Problem
from .registry import factory, get, names, register

__all__ = ["Oracle", "Problem", "factory", "get", "names", "register"]
