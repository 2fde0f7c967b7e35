"""Stepwise optimizers as taught: SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam.

``optimizers.get(name, **hyperparams)`` builds one; ``optimizers.names()`` lists them;
``optimizers.register(name, factory)`` adds a user-defined optimizer.  Learning-rate
schedules live in :mod:`optimizers.schedules`; :class:`Averaged` adds Polyak averaging
to any stepwise optimizer.

>>> import optimizers
>>> optimizers.get("adam", lr=1e-3)
adam[lr=0.001,beta1=0.9,beta2=0.999,eps=1e-07,bias_correction=True]
"""

from . import schedules
from .adaptive import AdaGrad, Adam, RMSProp
from .averaging import Averaged
from .base import Optimizer, State
from .first_order import SGD, Momentum, Nesterov
from .registry import factory, get, names, register

register("sgd", SGD)
register("momentum", Momentum)
register("nesterov", Nesterov)
register("adagrad", AdaGrad)
register("rmsprop", RMSProp)
register("adam", Adam)

__all__ = [
    "SGD",
    "AdaGrad",
    "Adam",
    "Averaged",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "State",
    "factory",
    "get",
    "names",
    "register",
    "schedules",
]
