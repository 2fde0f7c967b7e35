"""Convergence tracked across commits: steps and gradient evaluations to a target,
log10 of the final suboptimality after a fixed budget, for fixed seeded (problem,
optimizer) pairs.

All numbers come from one set of runs per environment (asv's ``setup_cache``), not
one run per metric.  A commit that changes how a method converges shows as a step
in asv's graphs.
"""

import math

import optbench
import optimizers
import problems

TARGET = 1e-6
STEPS = 2000
#: Floor of the tracked final suboptimality: a method that reaches f* exactly (0) or
#: overshoots it by round-off (a tiny negative value) is tracked as log10(1e-32) = -32: below
#: float64 round-off of any f* of order one, and close enough to the other pairs' values that
#: asv's one axis stays readable.
SUBOPT_FLOOR = 1e-32

#: name -> (family, parameters, L): L is about the largest curvature on the way, so
#: that the first-order rates below are stable and comparable across problems.
PROBLEMS = {
    "quadratic-k100": ("quadratic", {"dim": 20, "condition_number": 100.0}, 100.0),
    "quadratic-k1e4": ("quadratic", {"dim": 20, "condition_number": 1e4}, 1e4),
    "rosenbrock": ("rosenbrock", {"dim": 2}, 1e3),
    "logistic": ("logistic", {"n_samples": 500, "n_features": 10, "batch_size": None,
                              "standardize": True}, 1.0),
}
#: name -> (family, parameters given L)
OPTIMIZERS = {
    "sgd": ("sgd", lambda L: {"lr": 1.0 / L}),
    "momentum": ("momentum", lambda L: {"lr": 0.2 / L, "rho": 0.9}),
    "nesterov": ("nesterov", lambda L: {"lr": 0.2 / L, "rho": 0.9}),
    "adam": ("adam", lambda L: {"lr": 1e-2}),
    "newton": ("newton", lambda L: {"line_search": True}),
    "lbfgs": ("lbfgs", lambda L: {}),
}
PAIRS = [f"{p}/{o}" for p in PROBLEMS for o in OPTIMIZERS]


def _first(trace, column):
    """``column`` at the first step with subopt <= TARGET; NaN (a gap in asv's graph,
    "n/a" in its tables) when the budget ran out first: the final suboptimality
    then tells how far the method got."""
    hit = trace[trace["subopt"] <= TARGET]
    return float(hit[column].iloc[0]) if len(hit) else math.nan


def log10_subopt(subopt: float) -> float:
    """log10 of a suboptimality, clipped below at ``SUBOPT_FLOOR`` (0 and round-off
    below f* give -32 rather than -inf or an error)."""
    return math.log10(max(float(subopt), SUBOPT_FLOOR))


def numbers_of(pair: str, steps: int = STEPS) -> dict[str, float]:
    """Run one ``"problem/optimizer"`` pair for ``steps`` steps (seed 0) and return the
    tracked numbers: ``steps`` and ``grads`` to TARGET, ``log10_final`` suboptimality."""
    pname, oname = pair.split("/")
    family, params, lipschitz = PROBLEMS[pname]
    method, hyper = OPTIMIZERS[oname]
    problem = problems.get(family, **params)
    opt = optimizers.get(method, **hyper(lipschitz))
    trace = optbench.run(problem, opt, steps=steps, seed=0, record_every=1,
                         tol_grad=None, tol_subopt=1e-14).trace
    return {
        "steps": _first(trace, "step"),
        "grads": _first(trace, "n_grad"),
        "log10_final": log10_subopt(trace["subopt"].iloc[-1]),
    }


class Convergence:
    params = [PAIRS]
    param_names = ["problem/optimizer"]
    timeout = 600

    def setup_cache(self):
        return {pair: numbers_of(pair) for pair in PAIRS}

    def track_steps_to_target(self, numbers, pair):
        return numbers[pair]["steps"]

    track_steps_to_target.unit = "steps"

    def track_gradients_to_target(self, numbers, pair):
        return numbers[pair]["grads"]

    track_gradients_to_target.unit = "gradient evaluations"

    def track_log10_final_subopt(self, numbers, pair):
        """log10 of the suboptimality after STEPS steps (values span 1e-29 to 1: a
        linear axis showed only the worst pairs); floored at log10(SUBOPT_FLOOR)."""
        return numbers[pair]["log10_final"]

    track_log10_final_subopt.unit = "log10(suboptimality)"
