"""Claims 1-5 (optimizer dynamics): arms, criteria on hand-built evidence, figures (drawn
by reports.claim_figures, legible at the page's width), and the quick experiments with two
seed sets."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from optbench import claims
from optbench.claims import FAILS, HOLDS, INCONCLUSIVE, Budget, Evidence, dynamics
from optbench.claims.dynamics import (adagrad_stalls, momentum_averages_noise, momentum_escapes_saddle,
                                      momentum_ill_conditioned, nesterov_vs_momentum)
from optbench.claims.execute import collect
from reports import claim_figures
from reports.claim_figures import dynamics as dynamics_figures
from reports.style import MIN_FONT_PT, PAGE_WIDTH_IN, smallest_text_pt
from tests.test_claims_sizes import expected

CLAIMS = {claim.number: claim for claim in dynamics.CLAIMS}
QUICK = Budget.default(quick=True)
FULL = Budget.default()


# --------------------------------------------------------------------------- synthetic evidence


def _evidence(runs: list[dict], budget: Budget = QUICK) -> Evidence:
    """Evidence from run dicts ``{arm, seed, status, rows: {column: list}}`` (rows None: an
    error run without trace rows)."""
    frames, meta = [], []
    for i, run in enumerate(runs):
        run_id = f"r{i:04d}"
        status = run.get("status", "max_steps")
        meta.append({"run_id": run_id, "arm": run["arm"], "seed": run["seed"], "status": status})
        if run.get("rows") is None:
            continue
        frame = pd.DataFrame(run["rows"])
        frame["run_id"], frame["arm"] = run_id, run["arm"]
        frame["seed"], frame["status"] = run["seed"], status
        frames.append(frame)
    trace = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["run_id", "arm", "seed", "status", "step"])
    return Evidence(trace=trace, runs=pd.DataFrame(meta), tables={}, budget=budget)


def _hits(arm: str, seed: int, step: float, status: str = "converged", **extra) -> dict:
    """A run whose subopt reaches 1e-7 (below every target) first at ``step``."""
    step = int(round(step))
    rows = {"step": [0, max(1, step - 1), step], "subopt": [10.0, 1.0, 1e-7]}
    return {"arm": arm, "seed": seed, "status": status, "rows": rows, **extra}


def _never(arm: str, seed: int, status: str) -> dict:
    return {"arm": arm, "seed": seed, "status": status, "rows": {"step": [0, 5], "subopt": [10.0, 1e3]}}


SEEDS = QUICK.seeds


def _jitter(seed: int) -> float:
    return 1.0 + 0.02 * (seed - 2)


# --------------------------------------------------------------------------- arms


@pytest.mark.parametrize("number", sorted(CLAIMS))
def test_arms_are_well_formed(number):
    claim = CLAIMS[number]
    assert claim.key == claims.get(claim.key).key
    totals = {}
    for budget in (QUICK, FULL, Budget.default(quick=True, seeds=(10, 11, 12, 13, 14))):
        arms = claim.arms(budget)
        names = [arm.name for arm in arms]
        assert len(set(names)) == len(names)
        ids = [spec.run_id() for arm in arms for spec in arm.specs]
        assert len(set(ids)) == len(ids), "a run appears twice"
        for arm in arms:
            seeds = [spec.seed for spec in arm.specs]
            assert len(set(seeds)) >= 2 and len(set(seeds)) == len(seeds)
            if not arm.name.startswith("tune/"):
                assert tuple(seeds) == budget.seeds
        totals[budget] = sum(spec.steps for arm in arms for spec in arm.specs)
    assert totals[QUICK] < totals[FULL]


def test_claims_are_in_number_order():
    assert [c.number for c in dynamics.CLAIMS] == [1, 2, 3, 4, 5]
    modules = (momentum_ill_conditioned, momentum_escapes_saddle, momentum_averages_noise,
               nesterov_vs_momentum, adagrad_stalls)
    assert dynamics.CLAIMS == [module.CLAIM for module in modules]
    assert [module.__name__.rsplit(".", 1)[1] for module in modules] == [
        c.key.replace("-", "_") for c in dynamics.CLAIMS]


def test_every_claim_has_its_figure_in_reports():
    # the harness draws no figure: each claim's figure is reports.claim_figures'
    assert all(c.figure is None for c in dynamics.CLAIMS)
    assert set(dynamics_figures.FIGURES) == {c.key for c in dynamics.CLAIMS}
    for c in dynamics.CLAIMS:
        assert claim_figures.figure_for(c.key) is dynamics_figures.FIGURES[c.key]


def test_heavy_ball_parameters_are_polyaks():
    lr, rho = momentum_ill_conditioned.heavy_ball_params(100.0)
    assert lr == pytest.approx(4.0 / 121.0)
    assert rho == pytest.approx((9.0 / 11.0) ** 2)
    spec = next(a for a in momentum_ill_conditioned.arms(QUICK) if a.name == "kappa=100/momentum").specs[0]
    assert spec.optimizer_params == {"lr": lr, "rho": rho}
    gd = next(a for a in momentum_ill_conditioned.arms(QUICK) if a.name == "kappa=100/sgd").specs[0]
    assert gd.optimizer_params == {"lr": 2.0 / 101.0}


def test_claim3_arms_match_each_comparison():
    noise = momentum_averages_noise
    params = {arm.name: arm.specs[0].optimizer_params for arm in noise.arms(QUICK)}
    assert len(noise.comparisons()) == 2 * len(noise.STEPS_LR)
    for name, sgd_lr, mom_lr in noise.comparisons():
        sgd, mom = params[f"lr={sgd_lr:g}/sgd"], params[f"lr={mom_lr:g}/momentum"]
        assert any(sgd_lr * noise.KAPPA == pytest.approx(x) for x in noise.STEPS_LR)
        assert "rho" not in sgd
        if name.startswith("equal lr"):
            assert mom["lr"] == sgd["lr"]
        else:
            assert mom["lr"] / (1.0 - mom["rho"]) == pytest.approx(sgd["lr"], rel=1e-12)
    spec = next(a for a in noise.arms(QUICK) if a.name.endswith("/sgd")).specs[0]
    assert spec.problem_params["dim"] == 2 and spec.record_every == 1  # the iterate, every step


@pytest.mark.parametrize("comparison", ["equal lr", "equal effective step"])
def test_stationary_ratio_matches_a_lyapunov_solution(comparison):
    import scipy.linalg as scipy_linalg

    noise = momentum_averages_noise
    h = np.geomspace(1.0, noise.KAPPA, noise.DIM)
    a, rho = 1.0 / noise.KAPPA, noise.RHO
    mom_lr = a if comparison == "equal lr" else a * (1 - rho)
    var = []
    for lr, b in ((a, 0.0), (mom_lr, rho)):
        total = 0.0
        for hi in h:
            m = np.array([[1 + b - lr * hi, -b], [1.0, 0.0]])
            q = np.array([[lr * lr, 0.0], [0.0, 0.0]])
            total += 0.5 * hi * scipy_linalg.solve_discrete_lyapunov(m, q)[0, 0]
        var.append(total)
    assert noise.stationary_subopt_ratio(a, mom_lr) == pytest.approx(var[1] / var[0], rel=1e-10)


def test_mean_step_cosine_of_known_paths():
    cos = momentum_averages_noise.mean_step_cosine
    steps = list(range(9))
    straight = pd.DataFrame({"step": steps, "x_0": np.arange(9.0), "x_1": np.zeros(9)})
    zigzag = pd.DataFrame({"step": steps, "x_0": [0.0, 1.0] * 4 + [0.0], "x_1": np.arange(9.0) * 0.0})
    turning = pd.DataFrame({"step": steps, "x_0": np.arange(9.0), "x_1": [0.0, 1.0] * 4 + [0.0]})
    assert cos(straight, "max_steps") == pytest.approx(1.0)
    assert cos(zigzag, "max_steps") == pytest.approx(-1.0)
    assert cos(turning, "max_steps") == pytest.approx(0.0, abs=1e-12)  # (1, 1) then (1, -1)
    assert cos(straight, "diverged") == -1.0
    assert math.isnan(cos(straight.drop(columns=["x_0", "x_1"]), "max_steps"))


def test_offsets_are_seeded_and_in_range():
    offsets = [momentum_escapes_saddle.initial_offset(s) for s in range(20)]
    assert offsets == [momentum_escapes_saddle.initial_offset(s) for s in range(20)]
    assert all(1e-4 <= o <= 1e-2 for o in offsets)
    assert len(set(offsets)) == 20


# --------------------------------------------------------------------------- claim 1


def _claim1(gd, mom, *, status=None) -> Evidence:
    runs = []
    for k in momentum_ill_conditioned.KAPPAS:
        for s in SEEDS:
            runs.append(_hits(f"kappa={k:g}/sgd", s, gd(k) * _jitter(s)))
            runs.append(_hits(f"kappa={k:g}/momentum", s, mom(k) * _jitter(s)))
    return _evidence(runs)


def test_claim1_holds_when_gd_grows_like_kappa():
    v = CLAIMS[1].criterion(_claim1(lambda k: 4 * k, lambda k: 4 * math.sqrt(k)))
    assert v.outcome == HOLDS
    assert v.numbers["exponent_sgd"] == pytest.approx(1.0, abs=0.01)
    assert v.numbers["exponent_momentum"] == pytest.approx(0.5, abs=0.02)
    assert v.numbers["ratio_k10000"] == pytest.approx(100.0, rel=0.02)
    # the map: "far fewer" (ratio sqrt(kappa) above 2) from kappa 10 on, not at kappa 2 (1.41)
    assert v.by_setting == {"kappa 2": FAILS, **dict.fromkeys(
        [momentum_ill_conditioned.setting_name(k) for k in momentum_ill_conditioned.KAPPAS[1:]], HOLDS)}


def test_claim1_map_is_inconclusive_where_the_interval_contains_far_fewer():
    # ratio 2 at every kappa (both counts share the jitter): each interval touches FAR_FEWER
    v = CLAIMS[1].criterion(_claim1(lambda k: 2 * k, lambda k: k))
    assert set(v.by_setting.values()) == {INCONCLUSIVE}
    assert list(v.by_setting) == [f"kappa {k:g}" for k in momentum_ill_conditioned.KAPPAS]


def test_claim1_fails_when_momentum_is_slower():
    v = CLAIMS[1].criterion(_claim1(lambda k: 2 * math.sqrt(k), lambda k: 4 * math.sqrt(k)))
    assert v.outcome == FAILS
    assert v.numbers["ratio_k10000_high"] < 1.0
    assert set(v.by_setting.values()) == {FAILS}


def test_claim1_fails_when_gd_grows_more_slowly_even_if_ahead():
    # ratio 4 at the largest kappa, but GD's exponent 0.5 < momentum's 0.6
    v = CLAIMS[1].criterion(_claim1(lambda k: 10 * k ** 0.5, lambda k: k ** 0.6))
    assert v.numbers["ratio_k10000_low"] > momentum_ill_conditioned.FAR_FEWER
    assert v.outcome == FAILS


def test_claim1_inconclusive_between_one_and_far_fewer():
    # GD's count grows faster (exponent +0.1) but is only 1.5 times momentum's at kappa = 1e4
    v = CLAIMS[1].criterion(_claim1(lambda k: 30 * math.sqrt(k) * (k / 1e4) ** 0.1,
                                    lambda k: 20 * math.sqrt(k)))
    assert v.outcome == INCONCLUSIVE
    assert v.numbers["exponent_diff_low"] > 0.0
    assert 1.0 < v.numbers["ratio_k10000"] < momentum_ill_conditioned.FAR_FEWER


def test_claim1_counts_diverged_and_failed_runs():
    ev = _claim1(lambda k: 4 * k, lambda k: 4 * math.sqrt(k))
    runs = ev.runs.to_dict("records")
    # one GD run diverged (never reached: +inf steps), one momentum run raised
    bad_gd = ev.runs.index[(ev.runs["arm"] == "kappa=10000/sgd") & (ev.runs["seed"] == 0)][0]
    bad_mom = ev.runs.index[(ev.runs["arm"] == "kappa=10/momentum") & (ev.runs["seed"] == 1)][0]
    rebuilt = []
    for i, r in enumerate(runs):
        rows = ev.trace[ev.trace["run_id"] == r["run_id"]][["step", "subopt"]].to_dict("list")
        if i == bad_gd:
            rebuilt.append(_never(r["arm"], r["seed"], "diverged"))
        elif i == bad_mom:
            rebuilt.append({"arm": r["arm"], "seed": r["seed"], "status": "error", "rows": None})
        else:
            rebuilt.append({"arm": r["arm"], "seed": r["seed"], "status": r["status"], "rows": rows})
    v = CLAIMS[1].criterion(_evidence(rebuilt))
    assert v.outcome == HOLDS
    assert "1 diverged" in v.summary and "1 failed" in v.summary


def test_claim1_without_runs_is_inconclusive():
    v = CLAIMS[1].criterion(_evidence([]))
    assert v.outcome == INCONCLUSIVE


# --------------------------------------------------------------------------- claim 2


def _escape(arm: str, seed: int, t: float) -> dict:
    t = int(round(t))
    return {"arm": arm, "seed": seed, "status": "max_steps",
            "rows": {"step": [0, t - 1, t], "x_0": [0.5, 0.1, 0.0], "x_1": [1e-3, 0.3, 0.6],
                     "subopt": [0.4, 0.2, 0.1]}}


def _claim2(sgd, mom) -> Evidence:
    """GD at each of its lrs escapes at ``sgd(lr)``, momentum at ``mom(lr, seed)`` (times a jitter)."""
    saddle = momentum_escapes_saddle
    gd_lrs = sorted({gd for _, gd, _ in saddle.comparisons()})
    runs = []
    for s in SEEDS:
        runs += [_escape(f"lr={lr:g}/sgd", s, sgd(lr) * _jitter(s)) for lr in gd_lrs]
        runs += [_escape(f"lr={lr:g}/momentum", s, mom(lr, s) * _jitter(s)) for lr in saddle.LRS]
    return _evidence(runs)


#: The settings of claim 2, in order.
SADDLE = [name for name, _, _ in momentum_escapes_saddle.comparisons()]


def test_claim2_settings_and_arms():
    assert SADDLE == ["equal lr 0.01", "equal lr 0.1", "equal effective step lr/(1-rho) 0.1",
                      "equal effective step lr/(1-rho) 1"]
    params = {arm.name: arm.specs[0].optimizer_params for arm in momentum_escapes_saddle.arms(QUICK)}
    assert params == {"lr=0.01/sgd": {"lr": 0.01}, "lr=0.1/sgd": {"lr": 0.1}, "lr=1/sgd": {"lr": 1.0},
                      "lr=0.01/momentum": {"lr": 0.01, "rho": 0.9},
                      "lr=0.1/momentum": {"lr": 0.1, "rho": 0.9}}


@pytest.mark.parametrize("lr", [0.001, 0.01, 0.1, 1.0])
@pytest.mark.parametrize("rho", [0.5, 0.9, 0.99])
def test_claim2_growth_factors_in_closed_form(lr, rho):
    saddle = momentum_escapes_saddle
    g = saddle.growth_momentum(lr, rho)
    assert g == pytest.approx(max(np.roots([1.0, -(1.0 + rho + lr), rho]).real), rel=1e-12)
    # the linearised heavy ball along y grows by g per step once the other root has died out
    y = [1e-8, 1e-8]
    for _ in range(400):
        y.append(y[-1] + lr * y[-1] + rho * (y[-1] - y[-2]))
    assert y[-1] / y[-2] == pytest.approx(g, rel=1e-9)
    # faster than GD at the same lr, slower than GD at the same effective step
    assert saddle.growth_gd(lr) < g < saddle.growth_gd(lr / (1.0 - rho))


def test_claim2_holds_when_momentum_wins_both_comparisons():
    v = CLAIMS[2].criterion(_claim2(lambda lr: 1000, lambda lr, s: 100))
    assert v.outcome == HOLDS
    assert v.by_setting == dict.fromkeys(SADDLE, HOLDS)
    assert v.numbers["ratio[equal lr 0.01]"] == pytest.approx(10.0, rel=1e-6)
    assert v.numbers["growth_momentum_lr0.01"] == pytest.approx(momentum_escapes_saddle.growth_momentum(0.01))
    assert v.numbers["theory[equal lr 0.1]"] == pytest.approx(
        math.log(momentum_escapes_saddle.growth_momentum(0.1)) / math.log(1.1))


def test_claim2_does_not_hold_when_gd_at_the_effective_step_wins():
    # what the closed form predicts: 6x faster at the same lr, 0.6x at the same effective step
    v = CLAIMS[2].criterion(_claim2(lambda lr: 6 / lr, lambda lr, s: 1 / lr))
    assert v.outcome == FAILS
    assert v.by_setting == {SADDLE[0]: HOLDS, SADDLE[1]: HOLDS, SADDLE[2]: FAILS, SADDLE[3]: FAILS}
    assert v.numbers["ratio[equal lr 0.01]"] == pytest.approx(6.0, rel=1e-6)
    assert v.numbers["ratio[equal effective step lr/(1-rho) 0.1]"] == pytest.approx(0.6, rel=1e-6)
    assert "sooner at equal lr, later at equal effective step" in v.summary


def test_claim2_inconclusive_when_an_interval_contains_one():
    spread = (800, 900, 1000, 1100, 1200)
    v = CLAIMS[2].criterion(_claim2(lambda lr: 1000, lambda lr, s: spread[s] if lr == 0.1 else 100))
    assert v.outcome == INCONCLUSIVE
    assert v.by_setting == {SADDLE[0]: HOLDS, SADDLE[1]: INCONCLUSIVE, SADDLE[2]: HOLDS,
                            SADDLE[3]: INCONCLUSIVE}


def test_claim2_never_escaping_counts_as_slowest():
    ev = _claim2(lambda lr: 6 / lr, lambda lr, s: 1 / lr)
    runs = []
    for _rid, group in ev.trace.groupby("run_id"):
        arm, seed = group["arm"].iloc[0], int(group["seed"].iloc[0])
        rows = group[["step", "x_0", "x_1", "subopt"]].to_dict("list")
        if arm.endswith("/sgd"):
            rows["x_1"] = [1e-3] * len(rows["x_1"])  # GD never leaves the slab
        runs.append({"arm": arm, "seed": seed, "status": "max_steps", "rows": rows})
    v = CLAIMS[2].criterion(_evidence(runs))
    assert v.outcome == HOLDS
    assert math.isinf(v.numbers["ratio[equal lr 0.1]"])


# --------------------------------------------------------------------------- claim 3


def _walk(arm: str, seed: int, cos: float, level: float, status: str = "max_steps") -> dict:
    """A 2-D path whose step turns by ``arccos(cos)`` every step (consecutive steps have
    cosine ``cos`` exactly) and whose subopt is 50 in the first half, ``level`` after."""
    n = 40
    turn = math.acos(cos) * np.arange(n)
    x = np.vstack([np.zeros((1, 2)), np.cumsum(0.01 * np.c_[np.cos(turn), np.sin(turn)], axis=0)])
    subopt = [50.0] * (n // 2 + 1) + [level] * (n // 2)
    return {"arm": arm, "seed": seed, "status": status,
            "rows": {"step": list(range(n + 1)), "x_0": x[:, 0], "x_1": x[:, 1], "subopt": subopt}}


def _claim3(mom_cos, mom_level=lambda lr: 0.5) -> Evidence:
    """SGD's step cosine is about 0 (a seed's jitter) and its floor 1; momentum's at lr are
    ``mom_cos(lr, seed)`` and ``mom_level(lr)``."""
    noise = momentum_averages_noise
    sgd_lrs, mom_lrs = (sorted({c[i] for c in noise.comparisons()}) for i in (1, 2))
    runs = []
    for s in SEEDS:
        runs += [_walk(f"lr={lr:g}/sgd", s, 0.01 * (s - 2), 1.0) for lr in sgd_lrs]
        runs += [_walk(f"lr={lr:g}/momentum", s, mom_cos(lr, s), mom_level(lr)) for lr in mom_lrs]
    return _evidence(runs)


#: The settings of claim 3, in order.
NOISE_SETTINGS = [name for name, _, _ in momentum_averages_noise.comparisons()]


def test_claim3_settings():
    assert NOISE_SETTINGS == ["equal lr (lr*L 0.1)", "equal lr (lr*L 1)", "equal effective step (lr*L 0.1)",
                              "equal effective step (lr*L 1)"]


def test_claim3_holds_when_momentum_is_smoother_everywhere():
    v = CLAIMS[3].criterion(_claim3(lambda lr, s: 0.8))
    assert v.outcome == HOLDS
    assert v.by_setting == dict.fromkeys(NOISE_SETTINGS, HOLDS)
    assert v.numbers["diff[equal lr (lr*L 0.1)]"] == pytest.approx(0.8, abs=1e-9)
    assert v.numbers["cos_momentum_lr0.001"] == pytest.approx(0.8)
    assert v.numbers["floor_ratio[equal lr (lr*L 1)]"] == pytest.approx(0.5)  # only the second half counts
    assert v.numbers["floor_theory[equal effective step (lr*L 0.1)]"] == pytest.approx(
        momentum_averages_noise.stationary_subopt_ratio(0.01, 0.001))


def test_claim3_does_not_hold_when_one_setting_is_not_smoother():
    # momentum at lr 0.001 (equal effective step at lr*L 0.1) only 0.05 above SGD: under the margin
    v = CLAIMS[3].criterion(_claim3(lambda lr, s: 0.05 + 0.01 * (s - 2) if lr == 0.001 else 0.8))
    assert v.outcome == FAILS
    assert v.by_setting == {**dict.fromkeys(NOISE_SETTINGS, HOLDS), NOISE_SETTINGS[2]: FAILS}
    assert v.numbers["diff[equal effective step (lr*L 0.1)]"] == pytest.approx(0.05, abs=1e-9)


def test_claim3_inconclusive_when_an_interval_contains_the_margin():
    spread = (0.0, 0.05, 0.1, 0.15, 0.2)
    v = CLAIMS[3].criterion(_claim3(lambda lr, s: spread[s] if lr == 0.001 else 0.8))
    assert v.outcome == INCONCLUSIVE
    assert v.by_setting == {**dict.fromkeys(NOISE_SETTINGS, HOLDS), NOISE_SETTINGS[2]: INCONCLUSIVE}
    low, high = (v.numbers[f"diff[{NOISE_SETTINGS[2]}]{e}"] for e in ("_low", "_high"))
    assert low < momentum_averages_noise.MARGIN < high


def test_claim3_diverged_momentum_is_least_smooth():
    ev = _claim3(lambda lr, s: 0.8)
    runs = []
    for _rid, group in ev.trace.groupby("run_id"):
        arm, seed = group["arm"].iloc[0], int(group["seed"].iloc[0])
        status = "diverged" if arm == "lr=0.1/momentum" else "max_steps"
        runs.append({"arm": arm, "seed": seed, "status": status,
                     "rows": group[["step", "x_0", "x_1", "subopt"]].to_dict("list")})
    v = CLAIMS[3].criterion(_evidence(runs))
    assert v.outcome == FAILS
    assert v.by_setting[NOISE_SETTINGS[1]] == FAILS  # equal lr at lr*L 1: momentum lr 0.1
    assert math.isinf(v.numbers[f"floor_ratio[{NOISE_SETTINGS[1]}]"])
    assert "diverged" in v.summary


# --------------------------------------------------------------------------- claim 4


def _claim4(ratio) -> Evidence:
    runs = []
    for k in nesterov_vs_momentum.KAPPAS:
        for r in nesterov_vs_momentum.RHOS:
            s_name = nesterov_vs_momentum.setting_name(k, r)
            for s in SEEDS:
                base = 200 * _jitter(s)
                runs.append(_hits(f"{s_name}/momentum", s, base))
                runs.append(_hits(f"{s_name}/nesterov", s, base * ratio(k, r, s)))
    return _evidence(runs)


NESTEROV_SETTINGS = [nesterov_vs_momentum.setting_name(k, r)
                     for k in nesterov_vs_momentum.KAPPAS for r in nesterov_vs_momentum.RHOS]


def test_claim4_records_every_step():
    assert all(spec.record_every == 1 for arm in nesterov_vs_momentum.arms(QUICK) for spec in arm.specs)
    assert "5%" in CLAIMS[4].statement and "5%" in CLAIMS[4].statistic


def test_claim4_verdicts():
    v = CLAIMS[4].criterion(_claim4(lambda k, r, s: 0.5))
    assert v.outcome == HOLDS
    assert v.by_setting == dict.fromkeys(NESTEROV_SETTINGS, HOLDS)
    assert "never needs more steps" in v.summary
    v = CLAIMS[4].criterion(_claim4(lambda k, r, s: 1.04 if (k, r) == (1000.0, 0.9) else 0.8))
    assert v.outcome == HOLDS  # within the stated margin, and said so
    assert v.by_setting == dict.fromkeys(NESTEROV_SETTINGS, HOLDS)
    assert "more steps than momentum at kappa=1000,rho=0.9 (+4.0%" in v.summary


def test_claim4_does_not_hold_beyond_the_margin():
    v = CLAIMS[4].criterion(_claim4(lambda k, r, s: 1.3 if (k, r) == (100.0, 0.9) else 0.8))
    assert v.outcome == FAILS
    assert v.by_setting == {**dict.fromkeys(NESTEROV_SETTINGS, HOLDS), "kappa=100,rho=0.9": FAILS}
    assert "kappa=100,rho=0.9" in v.summary


def test_claim4_inconclusive_when_an_interval_contains_the_margin():
    v = CLAIMS[4].criterion(_claim4(lambda k, r, s: [0.9, 1.0, 1.05, 1.1, 1.2][s]
                                    if (k, r) == (10.0, 0.9) else 0.8))
    assert v.outcome == INCONCLUSIVE
    assert v.by_setting == {**dict.fromkeys(NESTEROV_SETTINGS, HOLDS), "kappa=10,rho=0.9": INCONCLUSIVE}


# --------------------------------------------------------------------------- claim 5


def _claim5_run(arm: str, seed: int, losses: dict[int, float], status: str = "max_steps") -> list[dict]:
    """Trace rows of one run: loss 3 at step 0, ``losses[B]`` at each budget ``B``."""
    rows = [{"step": 0, "loss": 3.0}] + [{"step": b, "loss": losses[b]} for b in adagrad_stalls.BUDGETS]
    return [{**row, "arm": arm, "seed": seed, "status": status, "run_id": f"{arm}#{seed}"} for row in rows]


def _claim5(ada, rms, budget: Budget = QUICK, spread: float = 0.1) -> Evidence:
    """The middle rate of each grid reaches ``ada(B)`` / ``rms(B)`` at budget ``B`` (times
    a seeded per-seed factor ``exp(spread N(0,1))``); every other rate ends at 1."""
    rng = np.random.default_rng(5)
    rows = []
    for name, lrs in adagrad_stalls.grid(budget).items():
        curve = ada if name == "adagrad" else rms
        for lr in lrs:
            for role, seeds in (("tune", adagrad_stalls.tune_seeds(budget)), ("eval", budget.seeds)):
                for s in seeds:
                    factor = float(np.exp(spread * rng.standard_normal()))
                    losses = {b: (curve(b) if lr == lrs[1] else 1.0) * factor for b in adagrad_stalls.BUDGETS}
                    rows += _claim5_run(f"{role}/{name}/lr={lr:g}", s, losses)
    trace = pd.DataFrame(rows)
    runs = trace.drop_duplicates("run_id")[["run_id", "arm", "seed", "status"]]
    return Evidence(trace=trace, runs=runs.reset_index(drop=True), tables={}, budget=budget)


def _claim5_map(*outcomes: str) -> dict[str, str]:
    return {adagrad_stalls.budget_text(b): o for b, o in zip(adagrad_stalls.BUDGETS, outcomes)}


def test_claim5_holds_on_long_runs_only():
    """AdaGrad ahead at the first budget, behind from the second (ratio 1e-3 B): the map
    says so, and the verdict is the longest budget's."""
    v = adagrad_stalls.criterion(_claim5(lambda b: 1e-3 / b, lambda b: 1.0 / b ** 2))
    assert v.by_setting == _claim5_map(FAILS, HOLDS, HOLDS)
    assert v.outcome == HOLDS
    end = adagrad_stalls.BUDGETS[-1]
    assert v.numbers[f"ratio_{end}"] == pytest.approx(1e-3 * end, rel=0.25)
    assert v.numbers[f"lr_adagrad_{end}"] == adagrad_stalls.QUICK_GRID["adagrad"][1]


def test_claim5_does_not_hold_when_adagrad_keeps_up():
    v = adagrad_stalls.criterion(_claim5(lambda b: 1e-3 / b ** 2, lambda b: 1e-1 / b))
    assert v.by_setting == _claim5_map(FAILS, FAILS, FAILS)
    assert v.outcome == FAILS


def test_claim5_inconclusive_when_the_pairs_straddle_one():
    """Equal curves with per-seed scatter: every interval contains 1."""
    v = adagrad_stalls.criterion(_claim5(lambda b: 1e-3, lambda b: 1e-3, spread=1.0))
    assert set(v.by_setting.values()) == {INCONCLUSIVE}
    assert v.outcome == INCONCLUSIVE


def test_claim5_rates_are_chosen_on_the_tuning_seeds_and_never_a_diverged_one():
    ev = _claim5(lambda b: 1e-3 / b, lambda b: 1.0 / b ** 2)
    trace = ev.trace.copy()
    best_on_eval = f"eval/adagrad/lr={adagrad_stalls.QUICK_GRID['adagrad'][2]:g}"
    trace.loc[trace["arm"] == best_on_eval, "loss"] = 1e-30  # looks best, but on evaluation seeds
    diverged = f"tune/rmsprop/lr={adagrad_stalls.QUICK_GRID['rmsprop'][0]:g}"
    # one tuning seed diverged, the other looks best of all: never chosen
    first = trace["seed"] == adagrad_stalls.TUNE_SEEDS[0]
    trace.loc[(trace["arm"] == diverged) & first, "loss"] = math.inf
    trace.loc[(trace["arm"] == diverged) & ~first, "loss"] = 1e-30
    v = adagrad_stalls.criterion(Evidence(trace, ev.runs, {}, ev.budget))
    for b in adagrad_stalls.BUDGETS:
        assert v.numbers[f"lr_adagrad_{b}"] == adagrad_stalls.QUICK_GRID["adagrad"][1]
        assert v.numbers[f"lr_rmsprop_{b}"] == adagrad_stalls.QUICK_GRID["rmsprop"][1]


def test_claim5_rmsprop_floor_is_stated():
    v = adagrad_stalls.criterion(_claim5(lambda b: 1e-3 / b, lambda b: 1.0 / b ** 2, spread=0.0))
    before, end = adagrad_stalls.BUDGETS[-2:]
    assert v.numbers["rmsprop_floor"] == pytest.approx(1.0 / end ** 2)
    assert v.numbers["rmsprop_floor_decades"] == pytest.approx(2 * math.log10(end / before))
    assert "RMSProp's level at the end" in v.summary


def test_claim5_without_runs_is_inconclusive():
    empty = Evidence(trace=pd.DataFrame(columns=["run_id", "arm", "seed", "status", "step", "loss"]),
                     runs=pd.DataFrame(columns=["run_id", "arm", "seed", "status"]), tables={},
                     budget=QUICK)
    assert adagrad_stalls.criterion(empty).outcome == INCONCLUSIVE


def test_claim5_budgets_are_recorded_and_runs_last_the_longest():
    for budget in (QUICK, Budget.default()):
        for arm in adagrad_stalls.arms(budget):
            for spec in arm.specs:
                assert spec.steps == max(adagrad_stalls.BUDGETS)
                assert all(b % spec.record_every == 0 for b in adagrad_stalls.BUDGETS)
                assert spec.problem_params["reg"] == 0.0
            seeds = {spec.seed for spec in arm.specs}
            if arm.name.startswith("tune/"):  # tuned on seeds the verdict never sees
                assert seeds == set(adagrad_stalls.tune_seeds(budget)) and not seeds & set(budget.seeds)
            else:
                assert seeds == set(budget.seeds)


# --------------------------------------------------------------------------- figures


SYNTHETIC = {
    1: lambda: _claim1(lambda k: 4 * k, lambda k: 4 * math.sqrt(k)),
    2: lambda: _claim2(lambda lr: 6 / lr, lambda lr, s: 1 / lr),
    3: lambda: _claim3(lambda lr, s: 0.8),
    4: lambda: _claim4(lambda k, r, s: 0.5),
    5: lambda: _claim5(lambda b: 1e-3 / b, lambda b: 1.0 / b ** 2),
}


def draw_figure(number: int, evidence: Evidence) -> Figure:
    """The claim's figure from reports.claim_figures, checked legible at the page's
    width: every text at least MIN_FONT_PT, the figure no wider than the page."""
    fig = claim_figures.figure_for(CLAIMS[number].key)(evidence)
    assert isinstance(fig, Figure)
    assert smallest_text_pt(fig) >= MIN_FONT_PT
    assert fig.get_figwidth() <= PAGE_WIDTH_IN
    return fig


@pytest.mark.parametrize("number", sorted(CLAIMS))
def test_figure_on_synthetic_evidence(number):
    fig = draw_figure(number, SYNTHETIC[number]())
    assert f"Claim {number}" in fig.get_suptitle()
    fig.canvas.draw()


@pytest.mark.parametrize("number", sorted(CLAIMS))
def test_figure_without_runs(number):
    fig = claim_figures.figure_for(CLAIMS[number].key)(_evidence([]))
    assert fig is None or isinstance(fig, Figure)


# --------------------------------------------------------------------------- quick experiments

@pytest.mark.parametrize("number", sorted(CLAIMS))
def test_quick_verdict_is_stable_across_seed_sets(number, tmp_path):
    claim = CLAIMS[number]
    verdicts = []
    for i, seeds in enumerate((None, (10, 11, 12, 13, 14))):
        budget = Budget.default(quick=True, seeds=seeds)
        # one directory: runs both seed sets share (claim 5's tuning runs) are run once
        evidence = collect(claim, budget, tmp_path)
        assert set(evidence.runs["status"]) <= {"converged", "max_steps"}
        verdict = claim.criterion(evidence)
        verdicts.append((verdict.outcome, dict(verdict.by_setting)))
        if i == 0:
            draw_figure(number, evidence)
    assert verdicts == [expected(claim.key)] * 2  # the last full run's verdict and map
