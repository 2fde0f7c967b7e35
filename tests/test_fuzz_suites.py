"""Property: any suite document either runs or exits 2 with one line; never a
traceback, never a hang."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbench.cli import main

SCALARS = st.one_of(
    st.sampled_from([0, 1, 2, 3, -1, 10**9, 1e-3, 0.5, 1.0, 1e3, -2.5, math.inf, math.nan]),
    st.booleans(),
    st.sampled_from(["", "x", "relu", "digits", "spiral", "adam"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                   st.dictionaries(st.sampled_from(["schedule", "lr", "every", "k"]), SCALARS,
                                   max_size=2))
PROBLEM_KEYS = ["dim", "condition_number", "noise", "rotate", "seed", "n_neg", "offset",
                "n_samples", "n_features", "batch_size", "reg", "standardize", "hidden",
                "activation", "dataset", "bogus"]
OPTIMIZER_KEYS = ["lr", "rho", "beta1", "beta2", "eps", "decay_rate", "bias_correction",
                  "damping", "line_search", "m", "average", "problems", "bogus"]
PROBLEM_NAMES = ["quadratic", "saddle", "rosenbrock", "logistic", "mlp", "quadratik", 3]
OPTIMIZER_NAMES = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "newton",
                   "lbfgs", "bfgs", "lbfgs_stochastic", "adma", None]


def table(names, keys):
    return st.fixed_dictionaries(
        {"name": st.sampled_from(names)},
        optional={k: VALUES for k in keys},
    )


VALID_PROBLEMS = st.sampled_from([
    {"name": "quadratic", "dim": 3},
    {"name": "quadratic", "dim": 2, "noise": 0.1, "rotate": False},
    {"name": "saddle"},
    {"name": "rosenbrock", "dim": 3},
    {"name": "logistic", "n_samples": 30, "n_features": 2, "batch_size": 8},
    {"name": "mlp", "dataset": "spiral", "n_samples": 30, "hidden": [[4]], "batch_size": 8},
])
VALID_OPTIMIZERS = st.sampled_from([
    {"name": "sgd", "lr": 0.01}, {"name": "adam"}, {"name": "momentum", "lr": 0.01},
    {"name": "newton"}, {"name": "lbfgs"}, {"name": "adagrad", "lr": 0.1},
    {"name": "sgd", "lr": {"schedule": "step", "lr": 0.1, "every": 2}},
])


@st.composite
def nearly_valid(draw):
    """A valid small suite, then (usually) one key of one table changed at random."""
    problems = draw(st.lists(VALID_PROBLEMS, min_size=1, max_size=2, unique_by=str))
    optimizers = draw(st.lists(VALID_OPTIMIZERS, min_size=1, max_size=2, unique_by=str))
    doc = {"steps": draw(st.sampled_from([1, 2, 3])), "seeds": draw(st.sampled_from([0, [0, 1]])),
           "problems": [dict(p) for p in problems], "optimizers": [dict(o) for o in optimizers]}
    where = draw(st.sampled_from(["none", "top", "problems", "optimizers"]))
    if where == "top":
        doc[draw(st.sampled_from(["steps", "seeds", "record_every", "stepz", "tol_grad"]))] = \
            draw(VALUES)
    elif where != "none":
        keys = PROBLEM_KEYS if where == "problems" else OPTIMIZER_KEYS
        doc[where][0][draw(st.sampled_from(keys + ["name"]))] = draw(VALUES)
    return doc


RANDOM_DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "seeds": st.one_of(SCALARS, st.lists(SCALARS, max_size=3)),
        "steps": st.sampled_from([1, 2, 3, 0, -1, 2.5, "3"]),
        "record_every": st.sampled_from([1, 2, 0, "1"]),
        "tol_grad": SCALARS,
        "stepz": SCALARS,
        "problems": st.one_of(st.lists(table(PROBLEM_NAMES, PROBLEM_KEYS), max_size=2), SCALARS),
        "optimizers": st.one_of(st.lists(table(OPTIMIZER_NAMES, OPTIMIZER_KEYS), max_size=2),
                                SCALARS),
    },
)
DOCUMENTS = st.one_of(nearly_valid(), RANDOM_DOCUMENTS)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v + '"'
    if v is None:
        return '""'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml_document(doc: dict) -> str:
    lines = []
    for key, value in doc.items():
        if key in ("problems", "optimizers") and isinstance(value, list):
            continue
        lines.append(f"{key} = {toml_value(value)}")
    for key in ("problems", "optimizers"):
        if isinstance(doc.get(key), list):
            for tab in doc[key]:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {toml_value(v)}" for k, v in tab.items()]
    return "\n".join(lines) + "\n"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_any_suite_runs_or_exits_2_with_one_line(doc):
    import contextlib
    import io

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "suite.toml"
        path.write_text(toml_document(doc))
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["run", str(path), "--out", str(Path(tmp) / "out"), "--quiet",
                         "--no-report"])
    text = err.getvalue()
    assert "Traceback" not in text
    assert code in (0, 1, 2)
    if code == 2:
        assert len(text.strip().splitlines()) == 1, text
