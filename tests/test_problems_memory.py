"""Memory estimates of the problem families and the check that refuses oversized problems.

The estimates are compared with what tracemalloc (which tracks numpy's array
allocations) measures: the peak over building the problem and then each oracle call
the estimate covers, one at a time -- the full grad, ``hess`` where the estimate counts
it (``has_hess`` and ``dim <= 20000``), a minibatch oracle's grad and, for the nets,
``metrics``.
"""

from __future__ import annotations

import gc
import inspect
import re
import tracemalloc

import numpy as np
import pytest

from problems import MLP, Logistic, Quadratic, Rosenbrock, Saddle, memory, mlp_data
from problems._validate import MAX_DENSE_DIM

FAMILIES = {
    "quadratic": Quadratic,
    "rosenbrock": Rosenbrock,
    "saddle": Saddle,
    "logistic": Logistic,
    "mlp": MLP,
}

#: The estimate may undershoot the measured peak by 10% at most and overshoot it by 3x.
LOW, HIGH = 0.9, 3.0


def measured_peak(cls, **params) -> int:
    """Peak traced bytes of ``cls(**params)`` and then one call of each oracle."""
    gc.collect()
    tracemalloc.start()
    try:
        p = cls(**params)
        x = p.x0(0)
        g = p.grad(x)
        del g
        if p.has_hess and p.dim <= MAX_DENSE_DIM:
            h = p.hess(x)
            del h
        oracle = p.minibatch(np.random.default_rng(0))
        g = oracle.grad(x)
        del g, oracle
        if hasattr(p, "metrics"):
            p.metrics(x)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def warm_datasets():
    """Import scikit-learn and read the bundled data once, outside the measurements
    (the first read of the digits imports modules worth tens of MB)."""
    pytest.importorskip("sklearn")
    MLP(hidden=[1], batch_size=None)
    MLP(hidden=[1], batch_size=None, classes=3)
    Logistic(dataset="breast_cancer")


CASES = [
    (Quadratic, {"dim": 200}),
    (Quadratic, {"dim": 400}),
    (Quadratic, {"dim": 500, "rotate": False}),
    (Quadratic, {"dim": 300_000, "rotate": False}),
    (Quadratic, {"dim": 300_000, "rotate": False, "noise": 1.0}),
    (Rosenbrock, {"dim": 500}),
    (Rosenbrock, {"dim": 300_000}),
    (Saddle, {"dim": 500, "n_neg": 3}),
    (Saddle, {"dim": 300_000, "n_neg": 1000}),
    (Logistic, {}),
    (Logistic, {"n_samples": 5000, "n_features": 50}),
    (Logistic, {"n_samples": 2000, "n_features": 300, "standardize": True, "batch_size": None}),
    (MLP, {"dataset": "spiral", "hidden": [8]}),
    (MLP, {"dataset": "spiral", "n_samples": 5000, "hidden": [50, 50], "batchnorm": True,
           "activation": "tanh"}),
    (MLP, {"dataset": "spiral", "n_samples": 8000, "hidden": [64], "activation": "maxout"}),
    # float32 problems: the estimate counts the dtype's item size
    (Quadratic, {"dim": 400, "dtype": "float32"}),
    (Quadratic, {"dim": 1100, "dtype": "float32"}),
    (Quadratic, {"dim": 500, "rotate": False, "dtype": "float32"}),
    (Quadratic, {"dim": 300_000, "rotate": False, "dtype": "float32"}),
    (Quadratic, {"dim": 300_000, "rotate": False, "noise": 1.0, "dtype": "float32"}),
    (Logistic, {"dtype": "float32"}),
    (Logistic, {"n_samples": 10_000, "n_features": 50, "dtype": "float32"}),
    (Logistic, {"n_samples": 9000, "n_features": 100, "standardize": True, "batch_size": None,
                "dtype": "float32"}),
    (MLP, {"dataset": "spiral", "n_samples": 5000, "hidden": [50, 50], "batchnorm": True,
           "activation": "tanh", "dtype": "float32"}),
    (MLP, {"dataset": "spiral", "n_samples": 8000, "hidden": [64], "activation": "maxout",
           "dtype": "float32"}),
]
DATA_CASES = [
    (Logistic, {"dataset": "breast_cancer"}),
    (MLP, {}),
    (MLP, {"hidden": [128, 128], "batchnorm": True, "activation": "maxout"}),
    (MLP, {"hidden": [32], "activation": "elu", "batch_size": None}),
    (MLP, {"classes": 3, "hidden": [16]}),
]


def _id(case):
    cls, params = case
    return f"{cls.name}({', '.join(f'{k}={v}' for k, v in params.items())})"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_estimate_close_to_measured_peak(case):
    cls, params = case
    estimate = cls.estimated_bytes(**params)
    actual = measured_peak(cls, **params)
    assert isinstance(estimate, int)
    assert LOW * actual <= estimate <= HIGH * actual, (estimate, actual, estimate / actual)


@pytest.mark.parametrize("case", DATA_CASES, ids=_id)
def test_estimate_close_to_measured_peak_bundled_data(case, warm_datasets):
    """Measured from a cold digits cache: the estimate counts the loader's parse of
    the whole file and the arrays load_digits keeps for the process (a first build)."""
    cls, params = case
    mlp_data.load_digits.cache_clear()
    estimate = cls.estimated_bytes(**params)
    actual = measured_peak(cls, **params)
    assert LOW * actual <= estimate <= HIGH * actual, (estimate, actual, estimate / actual)


def test_quadratic_rotated_grows_like_dim_squared():
    est = [Quadratic.estimated_bytes(dim) for dim in (150, 300)]
    assert 3.9 < est[1] / est[0] <= 4.0
    actual = [measured_peak(Quadratic, dim=dim) for dim in (150, 300)]
    assert 3.5 < actual[1] / actual[0] < 4.5
    # beyond the dense limit too (the constructor refuses, the estimate still tells)
    assert Quadratic.estimated_bytes(10**6) / Quadratic.estimated_bytes(10**5) == pytest.approx(100, rel=1e-3)


def test_vector_problems_grow_linearly_above_the_dense_limit():
    for estimate in (
        lambda d: Quadratic.estimated_bytes(d, rotate=False),
        Rosenbrock.estimated_bytes,
        lambda d: Saddle.estimated_bytes(d, n_neg=1),
    ):
        assert estimate(4 * 10**6) == 4 * estimate(10**6)
    # at and below the limit the dense Hessian (dim^2 * 8) is counted
    assert Rosenbrock.estimated_bytes(MAX_DENSE_DIM) > 8 * MAX_DENSE_DIM**2
    assert Rosenbrock.estimated_bytes(MAX_DENSE_DIM + 1) < 100 * MAX_DENSE_DIM


def test_logistic_grows_like_n_times_d():
    base = Logistic.estimated_bytes(20_000, 99, batch_size=None)
    assert Logistic.estimated_bytes(40_000, 99, batch_size=None) / base == pytest.approx(2, rel=0.02)
    assert Logistic.estimated_bytes(20_000, 199, batch_size=None) / base == pytest.approx(2, rel=0.02)
    actual = measured_peak(Logistic, n_samples=5000, n_features=50)
    assert measured_peak(Logistic, n_samples=10_000, n_features=50) / actual == pytest.approx(2, rel=0.1)


@pytest.mark.parametrize("cls, params, low, high", [
    (Quadratic, {"dim": MAX_DENSE_DIM}, 0.25, 0.35),         # 3 float32 matrices against 5
    (Quadratic, {"dim": 10**7, "rotate": False}, 0.5, 0.6),
    (Quadratic, {"dim": 10**7, "rotate": False, "noise": 1.0}, 0.5, 0.6),
    (Logistic, {"n_samples": 10**6, "n_features": 199, "batch_size": None}, 0.5, 0.52),
    (Logistic, {"n_samples": 10**6, "n_features": 99, "batch_size": 256}, 0.5, 0.52),
    (MLP, {"dataset": "spiral", "n_samples": 10**5, "hidden": [256, 256]}, 0.5, 0.52),
])
def test_float32_halves_the_estimate_of_large_problems(cls, params, low, high):
    ratio = cls.estimated_bytes(**params, dtype="float32") / cls.estimated_bytes(**params)
    assert low <= ratio <= high, ratio
    assert cls.estimated_bytes(**params, dtype="float64") == cls.estimated_bytes(**params)


@pytest.mark.parametrize("cls, params", [
    (Quadratic, {"dim": 1100}),
    (Logistic, {"n_samples": 20_000, "n_features": 100, "batch_size": None}),
])
def test_float32_halves_the_measured_peak(cls, params):
    ratio = measured_peak(cls, **params, dtype="float32") / measured_peak(cls, **params)
    assert ratio <= 0.55, ratio  # measured: quadratic 0.36, logistic 0.50


def test_the_float32_f_star_solve_stays_within_the_estimate():
    """f_star of float32 data is solved in float64 a block of rows at a time: no float64
    copy of the data."""
    params = {"n_samples": 40_000, "n_features": 20, "batch_size": None, "dtype": "float32",
              "standardize": True, "seed": 11}
    gc.collect()
    tracemalloc.start()
    try:
        problem = Logistic(**params)
        _ = problem.f_star
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = Logistic.estimated_bytes(**params)
    assert LOW * peak <= estimate <= HIGH * peak, (estimate, peak)
    # X and yx are held; a float64 copy of yx would add twice X's bytes on its own
    assert peak < 2 * problem.X.nbytes + 2 * problem.X.nbytes, (peak, problem.X.nbytes)


def test_check_fits_counts_the_dtype():
    # 5 * 1000^2 * 8 = 40 MB does not fit in 0.8 * 45 MB; the float32 20 MB does
    with pytest.raises(ValueError, match="needs about 40.1 MB"):
        memory.check_fits("quadratic", Quadratic, {"dim": 1000}, available=45_000_000)
    memory.check_fits("quadratic", Quadratic, {"dim": 1000, "dtype": "float32"},
                      available=45_000_000)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_same_parameters_and_defaults_as_the_constructor(name):
    cls = FAMILIES[name]
    assert isinstance(inspect.getattr_static(cls, "estimated_bytes"), staticmethod)
    constructor = inspect.signature(cls).parameters
    estimate = inspect.signature(cls.estimated_bytes).parameters
    assert list(estimate) == list(constructor)
    for pname, param in constructor.items():
        assert estimate[pname].kind == param.kind, pname
        assert estimate[pname].default == param.default, pname


@pytest.mark.parametrize(
    "cls, params",
    [
        (Quadratic, {"dim": -1}),
        (Quadratic, {"dim": 3, "noise": -1.0}),
        (Rosenbrock, {"dim": 1}),
        (Saddle, {"dim": 3, "n_neg": 4}),
        (Logistic, {"n_samples": 0}),
        (Logistic, {"dataset": "iris"}),
        (MLP, {"dataset": "spiral", "hidden": []}),
        (MLP, {"dataset": "spiral", "activation": "relux"}),
        (MLP, {"classes": 11}),
        (Quadratic, {"dim": 3, "dtype": "float16"}),
        (Logistic, {"dtype": None}),
    ],
)
def test_invalid_sizes_raise_the_constructors_error(cls, params):
    with pytest.raises(ValueError) as from_constructor:
        cls(**params)
    with pytest.raises(ValueError) as from_estimate:
        cls.estimated_bytes(**params)
    assert str(from_estimate.value) == str(from_constructor.value)


SIZE = r"[\d.]+ [kMGTP]?B"


def _refuses_without_allocating(name, params, available=24 * 10**9):
    """The refusal comes from the estimate: almost nothing is allocated (no wall-clock
    bound: the tracemalloc peak is the proof)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            memory.check_fits(name, FAMILIES[name], params, available=available)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000
    return str(info.value)


def test_check_fits_refuses_a_huge_rotated_quadratic_from_the_estimate():
    message = _refuses_without_allocating("quadratic", {"dim": 10**6, "rotate": True})
    assert message.startswith("quadratic(dim=1000000, rotate=True) needs about ")
    assert re.search(f"needs about {SIZE}; {SIZE} are available", message), message
    assert "40.0 TB" in message  # 5 dense 10^6 x 10^6 float64 matrices


def test_check_fits_refuses_a_huge_logistic():
    params = {"n_samples": 10**8, "n_features": 1000, "batch_size": None}
    message = _refuses_without_allocating("logistic", params)
    assert message.startswith("logistic(n_samples=100000000, n_features=1000, batch_size=None)")
    assert re.search(f"needs about {SIZE}; {SIZE} are available", message), message


def test_check_fits_message_with_a_given_available_memory():
    with pytest.raises(ValueError, match=re.escape(
        "quadratic(dim=200000, rotate=True) needs about 1.6 TB; 20.3 GB are available"
    )):
        memory.check_fits("quadratic", Quadratic, {"dim": 200_000, "rotate": True},
                          available=20_300_000_000)
    # the fraction: 5 * 1000^2 * 8 = 40 MB fits in 45 MB at 0.9 but not at 0.8
    memory.check_fits("quadratic", Quadratic, {"dim": 1000}, fraction=0.9, available=45_000_000)
    with pytest.raises(ValueError, match="at most 80% of it"):
        memory.check_fits("quadratic", Quadratic, {"dim": 1000}, available=45_000_000)


@pytest.mark.parametrize(
    "name, params",
    [
        ("quadratic", {"dim": 100}),
        ("quadratic", {"dim": 10**6, "rotate": False}),
        ("rosenbrock", {"dim": 10**5}),
        ("saddle", {"dim": 50, "n_neg": 5}),
        ("logistic", {}),
        ("logistic", {"dataset": "breast_cancer"}),
        ("mlp", {}),
        ("mlp", {"dataset": "spiral", "hidden": [16, 16]}),
    ],
)
def test_check_fits_passes_small_problems(name, params):
    assert memory.check_fits(name, FAMILIES[name], params) is None
    assert memory.check_fits(name, FAMILIES[name], params, available=10**9) is None


def test_check_fits_skips_what_it_cannot_judge():
    def user_family(dim=10**9):  # no estimated_bytes
        raise AssertionError("check_fits must not build the problem")

    assert memory.check_fits("user", user_family, {"dim": 10**9}) is None


def test_check_fits_with_unknown_available_memory(monkeypatch):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: None)
    assert memory.check_fits("quadratic", Quadratic, {"dim": 10**6}) is None


def test_available_memory_bytes_reads_meminfo_then_sysconf(monkeypatch, tmp_path):
    found = memory.available_memory_bytes()
    assert found is None or (isinstance(found, int) and found > 0)

    fake = tmp_path / "meminfo"
    fake.write_text("MemTotal:       32000000 kB\nMemAvailable:   20000000 kB\n")
    real_open = open
    monkeypatch.setattr(memory, "open", lambda path, *a, **k: real_open(fake, *a, **k), raising=False)
    assert memory.available_memory_bytes() == 20_000_000 * 1024

    def missing(*args, **kwargs):
        raise FileNotFoundError("/proc/meminfo")

    sysconf = {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(memory, "open", missing, raising=False)
    monkeypatch.setattr(memory.os, "sysconf", lambda name: sysconf[name])
    assert memory.available_memory_bytes() == 4_096_000

    def unsupported(name):
        raise ValueError(f"unrecognized configuration name {name!r}")

    monkeypatch.setattr(memory.os, "sysconf", unsupported)
    assert memory.available_memory_bytes() is None


def test_format_bytes():
    assert memory.format_bytes(640e9) == "640.0 GB"
    assert memory.format_bytes(20.3e9) == "20.3 GB"
    assert memory.format_bytes(999) == "999 B"
    assert memory.format_bytes(4e13) == "40.0 TB"
    assert memory.format_bytes(4e18) == "4000.0 PB"
