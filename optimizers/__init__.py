"""Optimizers as taught: SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam; the baselines
AdamW and NAdam; Newton, scipy's L-BFGS-B and BFGS, its Hessian-free Newton-CG and
trust-region Krylov methods, and a stepwise minibatch L-BFGS.

``optimizers.get(name, **hyperparams)`` builds one; ``optimizers.names()`` lists them;
``optimizers.register(name, factory)`` adds a user-defined optimizer.  Learning-rate
schedules live in :mod:`optimizers.schedules`; :class:`Averaged` adds Polyak averaging
to any stepwise optimizer.  The first-order and adaptive rules run on fused numba
kernels where numba is installed and on their numpy reference otherwise; the policy
(``OPTBENCH_KERNELS=auto|numba|numpy``, ``optimizers.kernels.use``) is described in
:mod:`optimizers.kernels`.

>>> import optimizers
>>> optimizers.get("adam", lr=1e-3)
adam[lr=0.001,beta1=0.9,beta2=0.999,eps=1e-07,bias_correction=True]
"""

from . import kernels, schedules
from .adaptive import AdaGrad, Adam, AdamW, NAdam, RMSProp
from .averaging import Averaged
from .base import Optimizer, State
from .first_order import SGD, Momentum, Nesterov
from .lbfgs_stochastic import LBFGSStochastic
from .newton import Newton
from .registry import factory, get, names, register
from .scipy_adapters import BFGS, LBFGS, NewtonCG, TrustKrylov

register("sgd", SGD)
register("momentum", Momentum)
register("nesterov", Nesterov)
register("adagrad", AdaGrad)
register("rmsprop", RMSProp)
register("adam", Adam)
register("adamw", AdamW)
register("nadam", NAdam)
register("newton", Newton)
register("lbfgs", LBFGS)
register("bfgs", BFGS)
register("newton_cg", NewtonCG)
register("trust_krylov", TrustKrylov)
register("lbfgs_stochastic", LBFGSStochastic)

__all__ = [
    "BFGS",
    "LBFGS",
    "LBFGSStochastic",
    "SGD",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Averaged",
    "Momentum",
    "NAdam",
    "Nesterov",
    "Newton",
    "NewtonCG",
    "Optimizer",
    "RMSProp",
    "State",
    "TrustKrylov",
    "factory",
    "get",
    "kernels",
    "names",
    "register",
    "schedules",
]
