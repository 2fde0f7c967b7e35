"""Hyper-parameter validation of the optimizers: every bad value names itself."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

import optimizers
from optimizers import adaptive, averaging, first_order, schedules, validation

NAMES = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lr", [0, 0.0, -1, -1e-300, math.nan, math.inf, -math.inf])
def test_bad_learning_rate(name, lr):
    with pytest.raises(ValueError, match=rf"^{name}: lr must be in \(0, inf\), got "):
        optimizers.get(name, lr=lr)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lr", ["0.1", None, True, [0.1], np.array([0.1, 0.2])])
def test_learning_rate_of_the_wrong_type(name, lr):
    with pytest.raises(ValueError, match=rf"^{name}: lr must be"):
        optimizers.get(name, lr=lr)


BAD = [
    ("momentum", "rho", 1.0, r"\[0, 1\)"),
    ("momentum", "rho", -0.1, r"\[0, 1\)"),
    ("momentum", "rho", math.nan, r"\[0, 1\)"),
    ("nesterov", "rho", 1.0, r"\[0, 1\)"),
    ("nesterov", "rho", -0.1, r"\[0, 1\)"),
    ("rmsprop", "decay_rate", 1.0, r"\[0, 1\)"),
    ("rmsprop", "decay_rate", -0.1, r"\[0, 1\)"),
    ("adam", "beta1", 1.0, r"\[0, 1\)"),
    ("adam", "beta1", -0.1, r"\[0, 1\)"),
    ("adam", "beta2", 1.0, r"\[0, 1\)"),
    ("adam", "beta2", 1.5, r"\[0, 1\)"),
    ("adagrad", "eps", 0.0, r"\(0, inf\)"),
    ("adagrad", "eps", -1e-8, r"\(0, inf\)"),
    ("rmsprop", "eps", 0, r"\(0, inf\)"),
    ("adam", "eps", 0.0, r"\(0, inf\)"),
    ("adam", "eps", math.inf, r"\(0, inf\)"),
]


@pytest.mark.parametrize("name, param, value, allowed", BAD)
def test_out_of_range(name, param, value, allowed):
    with pytest.raises(ValueError, match=rf"^{name}: {param} must be in {allowed}, got "):
        optimizers.get(name, lr=0.1, **{param: value})


def test_message_format():
    with pytest.raises(ValueError) as info:
        optimizers.get("adam", beta2=1.5)
    assert str(info.value) == "adam: beta2 must be in [0, 1), got 1.5"


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_bias_correction_must_be_a_bool(value):
    with pytest.raises(ValueError, match="^adam: bias_correction must be True or False"):
        optimizers.get("adam", bias_correction=value)


@pytest.mark.parametrize("name, typo, nearest", [
    ("momentum", "rhoo", "rho"),
    ("nesterov", "momentum", None),
    ("rmsprop", "decay", "decay_rate"),
    ("adagrad", "epsilon", "eps"),
    ("adam", "betta1", "beta1"),
    ("adam", "bias_corection", "bias_correction"),
    ("sgd", "learning_rate", None),
])
def test_unknown_hyperparameter_names_the_nearest(name, typo, nearest):
    with pytest.raises(ValueError) as info:
        optimizers.get(name, lr=0.1, **{typo: 0.5})
    assert isinstance(info.value, TypeError)  # what Python raises for a bad keyword, too
    message = str(info.value)
    assert message.startswith(f"{name}: unknown hyper-parameter {typo!r}")
    if nearest is not None:
        assert f"did you mean {nearest!r}?" in message
    assert "lr" in message  # lists the valid names


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop"])
def test_lr_is_required(name):
    with pytest.raises(ValueError, match=f"^{name}: .*'lr'"):
        optimizers.get(name)


def test_adam_lr_defaults_to_1e_3():
    assert optimizers.get("adam").lr_at(0) == 1e-3


def test_positional_arguments_beyond_lr_are_refused():
    with pytest.raises(TypeError):
        optimizers.Momentum(0.1, 0.5)


@pytest.mark.parametrize("name, kwargs", [
    ("momentum", {"rho": 0.0}),
    ("nesterov", {"rho": 0.999999}),
    ("rmsprop", {"decay_rate": 0}),
    ("adam", {"beta1": 0, "beta2": 0.0, "eps": 1e-300}),
    ("adam", {"bias_correction": np.bool_(False)}),
    ("adagrad", {"eps": np.float32(1e-3)}),
    ("sgd", {}),
])
def test_boundary_values_are_accepted(name, kwargs):
    opt = optimizers.get(name, lr=np.float64(1e-300), **kwargs)
    for key, value in kwargs.items():
        assert opt.hyperparams[key] == value
        assert type(opt.hyperparams[key]) in (float, bool)  # JSON-friendly


def test_bad_schedule_description_names_the_parameter():
    with pytest.raises(ValueError, match=r"^adam: lr: step schedule: factor must be in \(0, 1\]"):
        optimizers.get("adam", lr={"schedule": "step", "lr": 0.1, "every": 10, "factor": 2.0})
    with pytest.raises(ValueError, match="^sgd: lr: unknown schedule 'stepp'; did you mean 'step'"):
        optimizers.get("sgd", lr={"schedule": "stepp", "lr": 0.1})


def test_error_class_is_both_type_and_value_error():
    assert issubclass(validation.HyperparameterTypeError, TypeError)
    assert issubclass(validation.HyperparameterTypeError, ValueError)


@pytest.mark.parametrize("module", [optimizers, first_order, adaptive, schedules, averaging])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
