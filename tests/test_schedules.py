"""Learning-rate schedules: formulas, descriptions, validation."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizers import schedules
from optimizers.schedules import (
    Constant,
    Cosine,
    Exponential,
    InverseTime,
    StepDecay,
    WarmRestarts,
    Warmup,
    from_spec,
)

TIMES = [0, 1, 2, 7, 99, 100, 101, 250, 1000, 12345]


def test_constant():
    s = Constant(0.3)
    assert [s(t) for t in TIMES] == [0.3] * len(TIMES)


def test_step_decay():
    s = StepDecay(0.1, factor=0.5, every=100)
    assert [s(t) for t in (0, 99, 100, 199, 200, 250)] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    for t in TIMES:
        assert s(t) == pytest.approx(0.1 * 0.5 ** (t // 100), rel=1e-15)


def test_step_decay_factor_one_is_constant():
    s = StepDecay(0.1, factor=1.0, every=3)
    assert {s(t) for t in TIMES} == {0.1}


def test_exponential():
    s = Exponential(0.2, k=0.01)
    assert s(0) == 0.2
    assert s(100) == pytest.approx(0.2 / math.e, rel=1e-14)
    for t in TIMES:
        assert s(t) == pytest.approx(0.2 * math.exp(-0.01 * t), rel=1e-14)


def test_inverse_time():
    s = InverseTime(0.2, k=0.5)
    assert [s(0), s(2), s(6)] == [0.2, 0.1, 0.05]
    for t in TIMES:
        assert s(t) == pytest.approx(0.2 / (1 + 0.5 * t), rel=1e-14)


def test_zero_decay_rate_is_constant():
    assert {Exponential(0.2, k=0)(t) for t in TIMES} == {0.2}
    assert {InverseTime(0.2, k=0)(t) for t in TIMES} == {0.2}


def test_cosine():
    s = Cosine(1.0, steps=100, lr_min=0.1)
    assert s(0) == 1.0
    assert s(50) == pytest.approx(0.55, rel=1e-14)          # halfway: the mean
    assert s(25) == pytest.approx(0.1 + 0.9 * (1 + math.sqrt(0.5)) / 2, rel=1e-14)
    assert s(100) == pytest.approx(0.1, rel=1e-14)
    assert [s(t) for t in (101, 150, 10**6)] == [0.1, 0.1, 0.1]  # constant after the horizon
    for t in range(101):
        assert s(t) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * t / 100)) / 2,
                                     rel=1e-14)


def test_cosine_default_floor_is_zero():
    s = Cosine(0.5, steps=10)
    assert s(10) == pytest.approx(0.0, abs=1e-16)
    assert s(11) == 0.0


def restart_steps(T0, T_mult, horizon):
    """Period starts, listed by walking the periods one by one."""
    starts, start, length = [], 0, T0
    while start < horizon:
        starts.append(start)
        start += length
        length *= T_mult
    return starts


@pytest.mark.parametrize("T0, T_mult", [(10, 1), (10, 2), (3, 3), (1, 1), (1, 2)])
def test_warm_restarts(T0, T_mult):
    lr, lr_min, horizon = 0.5, 0.01, 400
    s = WarmRestarts(lr, T0=T0, T_mult=T_mult, lr_min=lr_min)
    starts = restart_steps(T0, T_mult, horizon)
    assert [t for t in range(horizon) if s(t) == lr] == starts
    bounds = starts + [starts[-1] + T0 * T_mult ** (len(starts) - 1)]
    for i, (begin, end) in enumerate(zip(bounds, bounds[1:])):
        length = end - begin
        assert length == T0 * T_mult**i
        for t in range(begin, min(end, horizon)):
            t_cur = t - begin
            want = lr_min + (lr - lr_min) * (1 + math.cos(math.pi * t_cur / length)) / 2
            assert s(t) == pytest.approx(want, rel=1e-13)


def test_warm_restarts_known_points():
    s = WarmRestarts(1.0, T0=10, T_mult=2)
    assert [s(t) for t in (0, 10, 30, 70)] == [1.0, 1.0, 1.0, 1.0]   # restarts
    assert s(5) == pytest.approx(0.5)       # middle of the first period (10 steps)
    assert s(20) == pytest.approx(0.5)      # middle of the second (20 steps)
    assert s(50) == pytest.approx(0.5)      # middle of the third (40 steps)
    assert s(29) < s(28) < s(11)            # decreasing inside a period


@pytest.mark.parametrize("base", [Constant(0.4), StepDecay(0.4, factor=0.5, every=3),
                                  Cosine(0.4, steps=20, lr_min=0.1)])
def test_warmup(base):
    w = 5
    s = Warmup(base, w)
    for t in range(30):
        want = base(t) * (t + 1) / w if t < w else base(t)
        assert s(t) == pytest.approx(want, rel=1e-15)
    assert s(0) == pytest.approx(base(0) / w)


def test_warmup_over_a_constant_is_linear():
    s = Warmup(1.0, 4)
    assert [s(t) for t in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


SPECS = [
    {"schedule": "constant", "lr": 0.1},
    {"schedule": "step", "lr": 0.1, "factor": 0.5, "every": 100},
    {"schedule": "exponential", "lr": 0.1, "k": 0.001},
    {"schedule": "inverse_time", "lr": 0.1, "k": 0.5},
    {"schedule": "cosine", "lr": 0.1, "steps": 1000, "lr_min": 0.001},
    {"schedule": "warm_restarts", "lr": 0.1, "T0": 50, "T_mult": 2, "lr_min": 0.0},
    {"schedule": "cosine", "lr": 0.1, "steps": 1000, "lr_min": 0.0, "warmup": 10},
]


@pytest.mark.parametrize("spec", SPECS, ids=[s["schedule"] for s in SPECS])
def test_descriptions_round_trip(spec):
    s = from_spec(spec)
    assert s.to_dict() == spec
    assert json.loads(json.dumps(s.to_dict())) == spec
    assert from_spec(s.to_dict()) == s
    assert schedules.as_schedule(spec) == s
    assert isinstance(s(3), float)


def test_from_spec_accepts_floats_and_schedules():
    assert from_spec(0.25) == Constant(0.25)
    assert from_spec(1) == Constant(1.0)
    s = Cosine(0.1, steps=10)
    assert from_spec(s) is s
    assert from_spec({"schedule": "step", "lr": 0.1, "every": 10}).factor == 0.5
    assert from_spec({"schedule": "cosine", "lr": 0.1, "steps": 5, "warmup": 0}) == Cosine(
        0.1, steps=5)
    assert Constant(0.1).to_spec() == 0.1
    assert StepDecay(0.1, every=3).to_spec() == StepDecay(0.1, every=3).to_dict()


def test_unknown_schedule_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        from_spec({"schedule": "cosin", "lr": 0.1})
    message = str(info.value)
    assert "did you mean 'cosine'" in message
    for name in ("constant", "step", "exponential", "inverse_time", "cosine", "warm_restarts"):
        assert name in message
    assert schedules.names() == ["constant", "step", "exponential", "inverse_time", "cosine",
                                 "warm_restarts"]


def test_description_needs_a_kind():
    with pytest.raises(ValueError, match="no 'schedule' key"):
        from_spec({"lr": 0.1})


def test_unknown_parameter_in_a_description():
    with pytest.raises(ValueError, match="unknown hyper-parameter 'evry'; did you mean 'every'"):
        from_spec({"schedule": "step", "lr": 0.1, "evry": 10})


@pytest.mark.parametrize("value", ["0.1", None, True, [0.1]])
def test_from_spec_refuses_other_types(value):
    with pytest.raises(ValueError, match="a learning rate must be"):
        from_spec(value)


BAD = [
    (Constant, {"lr": 0}, "lr"),
    (Constant, {"lr": -1}, "lr"),
    (Constant, {"lr": math.nan}, "lr"),
    (Constant, {"lr": math.inf}, "lr"),
    (StepDecay, {"lr": 0.1, "every": 10, "factor": 0.0}, "factor"),
    (StepDecay, {"lr": 0.1, "every": 10, "factor": 1.5}, "factor"),
    (StepDecay, {"lr": 0.1, "every": 0}, "every"),
    (StepDecay, {"lr": 0.1, "every": 1.5}, "every"),
    (StepDecay, {"lr": -0.1, "every": 10}, "lr"),
    (Exponential, {"lr": 0.1, "k": -1.0}, "k"),
    (Exponential, {"lr": 0.1, "k": math.nan}, "k"),
    (Exponential, {"lr": 0.1, "k": math.inf}, "k"),
    (InverseTime, {"lr": 0.1, "k": -0.5}, "k"),
    (Cosine, {"lr": 0.1, "steps": 0}, "steps"),
    (Cosine, {"lr": 0.1, "steps": 10, "lr_min": -0.1}, "lr_min"),
    (Cosine, {"lr": 0.1, "steps": 10, "lr_min": 0.2}, "lr_min"),
    (WarmRestarts, {"lr": 0.1, "T0": 0}, "T0"),
    (WarmRestarts, {"lr": 0.1, "T0": 10, "T_mult": 0}, "T_mult"),
    (WarmRestarts, {"lr": 0.1, "T0": 10, "T_mult": 1.5}, "T_mult"),
    (WarmRestarts, {"lr": 0.1, "T0": 10, "lr_min": 1.0}, "lr_min"),
    (Warmup, {"base": 0.1, "warmup": 0}, "warmup"),
    (Warmup, {"base": 0.1, "warmup": 2.5}, "warmup"),
]


@pytest.mark.parametrize("cls, kwargs, param", BAD, ids=[f"{c.name}-{p}" for c, _, p in BAD])
def test_bad_arguments_name_the_parameter(cls, kwargs, param):
    with pytest.raises(ValueError, match=rf"schedule: {param} must be"):
        cls(**kwargs)


def test_bad_warmup_in_a_description():
    with pytest.raises(ValueError, match="warmup must be an integer >= 0, got -1"):
        from_spec({"schedule": "constant", "lr": 0.1, "warmup": -1})


def test_warmup_only_once():
    with pytest.raises(ValueError, match="already has a warm-up"):
        Warmup(Warmup(0.1, 3), 3)


def test_message_format():
    with pytest.raises(ValueError) as info:
        StepDecay(0.1, factor=1.5, every=10)
    assert str(info.value) == "step schedule: factor must be in (0, 1], got 1.5"


@given(
    lr=st.floats(1e-6, 10.0),
    fraction=st.floats(0.0, 1.0),
    n=st.integers(1, 500),
    t=st.integers(0, 5000),
)
def test_decaying_schedules_stay_in_range_and_never_increase(lr, fraction, n, t):
    lr_min = lr * fraction
    for s in (StepDecay(lr, factor=max(fraction, 1e-3), every=n), Exponential(lr, k=fraction),
              InverseTime(lr, k=fraction), Cosine(lr, steps=n, lr_min=lr_min)):
        assert 0.0 <= s(t + 1) <= s(t) <= lr
    s = WarmRestarts(lr, T0=n, T_mult=2, lr_min=lr_min)
    assert lr_min * (1 - 1e-12) <= s(t) <= lr
