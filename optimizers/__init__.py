"""Stepwise optimizers as taught: SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam.

``optimizers.get(name, **hyperparams)`` builds one; ``optimizers.names()`` lists them;
``optimizers.register(name, factory)`` adds a user-defined optimizer.
"""

from .base import Optimizer, State
from .registry import factory, get, names, register

__all__ = ["Optimizer", "State", "factory", "get", "names", "register"]
