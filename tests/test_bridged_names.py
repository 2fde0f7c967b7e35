"""Bridged names (``torch:AdamW``, ``optax:adamw``) in optimizers.get and in suites: only the
known packages are imported by name, and every mistake is one line before anything runs."""

from __future__ import annotations

import pytest

import optimizers
from optbench.cli import main
from optimizers import frameworks

BRIDGED_SUITE = """
seeds = [0, 1]
steps = 40
record_every = 10

[[problems]]
name = "quadratic"
dim = 5
condition_number = 10.0

[[optimizers]]
name = "adam"
lr = 0.05

[[optimizers]]
name = "{name}"
{params}
"""


def _suite(tmp_path, name, params):
    path = tmp_path / "bridged.toml"
    path.write_text(BRIDGED_SUITE.format(name=name, params=params))
    return str(path)


def _one_line_exit_2(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


def test_an_unknown_package_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown optimizer package 'torhc'.*did you mean 'torch'"):
        optimizers.get("torhc:AdamW")
    with pytest.raises(ValueError, match="--plugin"):
        optimizers.get("os:system")


def test_a_package_that_is_not_installed_names_its_extra(monkeypatch):
    monkeypatch.setitem(frameworks.PACKAGES, "notinstalled",
                        ("no_such_module_for_optbench", "optimizers.torch_bridge", "torch"))
    with pytest.raises(ValueError, match=r"needs the package 'notinstalled'.*optbench\[torch\]"):
        optimizers.factory("notinstalled:Thing")


def test_an_unknown_bridged_name_in_a_suite_is_one_line(tmp_path, capsys):
    _one_line_exit_2(capsys, ["run", _suite(tmp_path, "torhc:AdamW", "lr = 0.01")],
                     "unknown optimizer package 'torhc'")


def test_torch_names_resolve_and_misspellings_get_the_nearest(tmp_path, capsys):
    torch = pytest.importorskip("torch", reason="the torch extra is not installed")
    with pytest.raises(ValueError, match="did you mean torch:AdamW"):
        optimizers.get("torch:AdamWW")
    with pytest.raises(ValueError, match="not a torch.optim.Optimizer class"):
        optimizers.get("torch:lr_scheduler")  # a module of torch.optim, not an optimizer
    opt = optimizers.get("torch:AdamW", lr=1e-3, weight_decay=0.01)
    assert opt.name == "torch:AdamW" and opt.hyperparams["weight_decay"] == 0.01
    assert frameworks.target("torch:AdamW")[0] is torch.optim.AdamW
    line = _one_line_exit_2(capsys, ["run", _suite(tmp_path, "torch:AdamW", "betas2 = [0.9, 0.99]")],
                            "unknown parameter 'betas2'", "did you mean 'betas'", "torch:AdamW(")
    assert "weight_decay" in line  # the class's real signature


def test_optax_names_resolve_and_misspellings_get_the_nearest(tmp_path, capsys):
    pytest.importorskip("optax", reason="the jax extra is not installed")
    with pytest.raises(ValueError, match="did you mean optax:adamw"):
        optimizers.get("optax:adamww")
    opt = optimizers.get("optax:adamw", learning_rate=1e-3)
    assert opt.name == "optax:adamw"
    _one_line_exit_2(capsys, ["run", _suite(tmp_path, "optax:adamw", "lr = 0.01")],
                     "unknown parameter 'lr'", "optax:adamw(")


def test_a_bridged_grid_runs_and_is_labelled_by_its_keywords(tmp_path, capsys):
    pytest.importorskip("torch", reason="the torch extra is not installed")
    suite = _suite(tmp_path, "torch:SGD", "lr = [0.01, 0.05]\nmomentum = 0.9")
    assert main(["run", suite, "--out", str(tmp_path / "res"), "--quiet", "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "torch:SGD[lr=0.01,momentum=0.9]" in out and "torch:SGD[lr=0.05,momentum=0.9]" in out


def test_an_optimizer_that_needs_more_than_a_flat_vector_is_left_out_with_a_note(tmp_path, capsys):
    pytest.importorskip("pytorch_optimizer", reason="pytorch-optimizer is not installed")
    # AdaHessian estimates the Hessian's diagonal with a second backward pass through the
    # gradient's graph: a problem that hands it a plain gradient cannot serve that
    suite = _suite(tmp_path, "pytorch_optimizer:AdaHessian", "lr = 0.1")
    assert main(["run", suite, "--out", str(tmp_path / "res"), "--no-report"]) == 0
    captured = capsys.readouterr()
    assert "skipping 2 runs: pytorch_optimizer:AdaHessian[lr=0.1] cannot run on a flat parameter " \
           "vector" in captured.err
    assert "adam[lr=0.05]" in captured.out and "AdaHessian" not in captured.out


def test_tuning_searches_a_bridged_optimizer_rate_by_its_own_name():
    from optbench.tuning import default_space

    pytest.importorskip("torch", reason="the torch extra is not installed")
    assert list(default_space("torch:AdamW")) == ["lr"]
    pytest.importorskip("optax", reason="the jax extra is not installed")
    assert list(default_space("optax:adamw")) == ["learning_rate"]
