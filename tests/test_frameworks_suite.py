"""The built-in frameworks suite: optbench's rules beside torch.optim, optax and
pytorch-optimizer's, unchanged; what cannot run on a flat vector is left out with a note."""

from __future__ import annotations

import pytest

from optbench.suites import load_suite, validate

pytest.importorskip("torch", reason="the torch extra is not installed")
pytest.importorskip("pytorch_optimizer", reason="pytorch-optimizer is not installed")
pytest.importorskip("optax", reason="the jax extra is not installed")


def test_the_frameworks_suite_validates_and_names_what_it_leaves_out():
    suite = validate(load_suite("frameworks"))
    optimizers = {s.optimizer for s in suite.specs}
    packages = {name.split(":")[0] for name in optimizers if ":" in name}
    assert packages == {"torch", "optax", "pytorch_optimizer", "schedulefree", "prodigyopt"}
    assert len([n for n in optimizers if n.startswith("pytorch_optimizer:")]) >= 10
    assert {"adam", "adamw", "nadam", "torch:AdamW", "optax:adamw"} <= optimizers
    left_out = " ".join(suite.skipped)
    for name in ("AdaHessian", "SophiaH"):
        assert f"pytorch_optimizer:{name}" in left_out and name not in " ".join(optimizers)
    assert "cannot run on a flat parameter vector" in left_out
    quick = load_suite("quick")
    assert {(p, str(params)) for p, params in suite.problem_configs} == \
        {(p, str(params)) for p, params in quick.problem_configs}
