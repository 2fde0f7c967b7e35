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


def test_claim3_arms_have_equal_effective_step():
    for arm in momentum_averages_noise.arms(QUICK):
        spec = arm.specs[0]
        lr_l = float(arm.name.split("/")[0].split("=")[1])
        p = spec.optimizer_params
        effective = p["lr"] / (1.0 - p.get("rho", 0.0))
        assert effective == pytest.approx(lr_l / momentum_averages_noise.KAPPA)


def test_stationary_ratio_matches_a_lyapunov_solution():
    import scipy.linalg as scipy_linalg

    noise = momentum_averages_noise
    h = np.geomspace(1.0, noise.KAPPA, noise.DIM)
    a, rho = 1.0 / noise.KAPPA, noise.RHO
    var = []
    for lr, b in ((a, 0.0), (a * (1 - rho), rho)):
        total = 0.0
        for hi in h:
            m = np.array([[1 + b - lr * hi, -b], [1.0, 0.0]])
            q = np.array([[lr * lr, 0.0], [0.0, 0.0]])
            total += 0.5 * hi * scipy_linalg.solve_discrete_lyapunov(m, q)[0, 0]
        var.append(total)
    assert noise.stationary_subopt_ratio(1.0) == pytest.approx(var[1] / var[0], rel=1e-10)


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


def test_claim1_fails_when_momentum_is_slower():
    v = CLAIMS[1].criterion(_claim1(lambda k: 2 * math.sqrt(k), lambda k: 4 * math.sqrt(k)))
    assert v.outcome == FAILS
    assert v.numbers["ratio_k10000_high"] < 1.0


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
    runs = []
    for lr in momentum_escapes_saddle.LRS:
        for s in SEEDS:
            runs.append(_escape(f"lr={lr:g}/sgd", s, sgd(lr) * _jitter(s)))
            runs.append(_escape(f"lr={lr:g}/momentum", s, mom(lr) * _jitter(s)))
    return _evidence(runs)


def test_claim2_verdicts():
    v = CLAIMS[2].criterion(_claim2(lambda lr: 6 / lr, lambda lr: 1 / lr))
    assert v.outcome == HOLDS
    assert v.numbers["ratio_lr0.01"] == pytest.approx(6.0, rel=1e-6)
    # GD at lr 0.1 (600 * 0.1 ... ) against momentum at lr 0.01: 60 / 100
    assert v.numbers["ratio_effective"] == pytest.approx(0.6, rel=0.05)
    v = CLAIMS[2].criterion(_claim2(lambda lr: 1 / lr, lambda lr: 3 / lr))
    assert v.outcome == FAILS
    # faster at one lr, slower at the other: no side at every lr
    v = CLAIMS[2].criterion(_claim2(lambda lr: 1 / lr, lambda lr: 0.5 / lr if lr < 0.05 else 1.0 / lr))
    assert v.outcome == INCONCLUSIVE


def test_claim2_never_escaping_counts_as_slowest():
    ev = _claim2(lambda lr: 6 / lr, lambda lr: 1 / lr)
    runs = []
    for _rid, group in ev.trace.groupby("run_id"):
        arm, seed = group["arm"].iloc[0], int(group["seed"].iloc[0])
        rows = group[["step", "x_0", "x_1", "subopt"]].to_dict("list")
        if arm.endswith("/sgd"):
            rows["x_1"] = [1e-3] * len(rows["x_1"])  # GD never leaves the slab
        runs.append({"arm": arm, "seed": seed, "status": "max_steps", "rows": rows})
    v = CLAIMS[2].criterion(_evidence(runs))
    assert v.outcome == HOLDS
    assert math.isinf(v.numbers["ratio_lr0.1"])


# --------------------------------------------------------------------------- claim 3


def _plateau(arm: str, seed: int, level: float) -> dict:
    steps = list(range(0, 101, 10))
    subopt = [50.0] * 5 + [level * (1.0 + 0.01 * ((i + seed) % 3)) for i in range(6)]
    return {"arm": arm, "seed": seed, "status": "max_steps", "rows": {"step": steps, "subopt": subopt}}


def _claim3(ratio) -> Evidence:
    """Momentum's plateau is ``ratio(lr_l, seed)`` times SGD's (1)."""
    runs = []
    for x in momentum_averages_noise.STEPS_LR:
        for s in SEEDS:
            runs.append(_plateau(f"lrL={x:g}/sgd", s, 1.0))
            runs.append(_plateau(f"lrL={x:g}/momentum", s, ratio(x, s)))
    return _evidence(runs)


def test_claim3_verdicts():
    v = CLAIMS[3].criterion(_claim3(lambda x, s: 0.5))
    assert v.outcome == HOLDS
    assert v.numbers["ratio_lrL1"] == pytest.approx(0.5, rel=1e-9)  # only the second half counts
    assert v.numbers["theory_lrL1"] == pytest.approx(momentum_averages_noise.stationary_subopt_ratio(1.0))
    v = CLAIMS[3].criterion(_claim3(lambda x, s: 0.5 if x == 1.0 else 0.97))
    assert v.outcome == FAILS  # a reduction under the 10% margin at one step
    spread = (0.8, 0.85, 0.9, 0.95, 1.0)
    v = CLAIMS[3].criterion(_claim3(lambda x, s: 0.5 if x == 1.0 else spread[s]))
    assert v.outcome == INCONCLUSIVE  # the interval straddles 0.9
    assert v.numbers["ratio_lrL0.1_low"] < 0.9 < v.numbers["ratio_lrL0.1_high"]


def test_claim3_diverged_momentum_is_worst():
    ev = _claim3(lambda x, s: 0.5)
    runs = []
    for _rid, group in ev.trace.groupby("run_id"):
        arm, seed = group["arm"].iloc[0], int(group["seed"].iloc[0])
        status = "diverged" if arm == "lrL=0.1/momentum" else "max_steps"
        runs.append({"arm": arm, "seed": seed, "status": status,
                     "rows": group[["step", "subopt"]].to_dict("list")})
    v = CLAIMS[3].criterion(_evidence(runs))
    assert v.outcome == FAILS
    assert math.isinf(v.numbers["ratio_lrL0.1"])
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


def test_claim4_verdicts():
    v = CLAIMS[4].criterion(_claim4(lambda k, r, s: 0.5))
    assert v.outcome == HOLDS
    v = CLAIMS[4].criterion(_claim4(lambda k, r, s: 1.04))
    assert v.outcome == HOLDS  # within the stated margin
    v = CLAIMS[4].criterion(_claim4(lambda k, r, s: 1.3 if (k, r) == (100.0, 0.9) else 0.8))
    assert v.outcome == FAILS
    assert "kappa=100,rho=0.9" in v.summary
    v = CLAIMS[4].criterion(_claim4(lambda k, r, s: [0.9, 1.0, 1.05, 1.1, 1.2][s]
                                    if (k, r) == (10.0, 0.9) else 0.8))
    assert v.outcome == INCONCLUSIVE


# --------------------------------------------------------------------------- claim 5


def _decay(arm: str, seed: int, half: float, final: float) -> dict:
    steps = [0, 10, adagrad_stalls.STEPS // 2, adagrad_stalls.STEPS]
    return {"arm": arm, "seed": seed, "status": "max_steps",
            "rows": {"step": steps, "subopt": [20.0, 10.0, half, final],
                     "x_0": [-1.2, -1.0, 0.9, 1.0], "x_1": [1.0, 0.9, 0.8, 1.0]}}


def _claim5(ada: tuple[float, float], rms: tuple[float, float], budget: Budget = QUICK) -> Evidence:
    """The best lr of each grid reaches (half, final) = ada / rms; every other lr ends at 1."""
    grid = adagrad_stalls.grid(budget)
    best = {name: lrs[1] for name, lrs in grid.items()}
    runs = []
    for name, lrs in grid.items():
        target = ada if name == "adagrad" else rms
        for lr in lrs:
            for role, seeds in (("tune", adagrad_stalls.TUNE_SEEDS), ("eval", budget.seeds)):
                for s in seeds:
                    half, final = target if lr == best[name] else (2.0, 1.0)
                    runs.append(_decay(f"{role}/{name}/lr={lr:g}", s, half * _jitter(s % 5),
                                       final * _jitter(s % 5)))
    return _evidence(runs, budget)


def test_claim5_verdicts():
    # AdaGrad stalls (no progress late), RMSProp keeps going and ends lower
    v = CLAIMS[5].criterion(_claim5(ada=(1e-2, 1e-2), rms=(1e-2, 1e-6)))
    assert v.outcome == HOLDS
    assert v.numbers["lr_adagrad"] == adagrad_stalls.QUICK_GRID["adagrad"][1]
    assert v.numbers["final_ratio"] == pytest.approx(1e4, rel=1e-9)
    assert v.numbers["progress_diff"] == pytest.approx(4.0, abs=1e-9)
    # AdaGrad ends lower: does not hold
    v = CLAIMS[5].criterion(_claim5(ada=(1e-4, 1e-7), rms=(1e-4, 1e-4)))
    assert v.outcome == FAILS
    # equal ends, equal progress: no side
    v = CLAIMS[5].criterion(_claim5(ada=(1e-3, 1e-5), rms=(1e-3, 1e-5)))
    assert v.outcome == INCONCLUSIVE


def test_claim5_selects_on_tuning_seeds_only():
    ev = _claim5(ada=(1e-2, 1e-2), rms=(1e-2, 1e-6))
    # make another AdaGrad lr look best on the evaluation seeds: selection must not change
    grid = adagrad_stalls.QUICK_GRID["adagrad"]
    trace = ev.trace.copy()
    other = trace["arm"] == f"eval/adagrad/lr={grid[2]:g}"
    trace.loc[other & (trace["step"] == adagrad_stalls.STEPS), "subopt"] = 1e-12
    v = CLAIMS[5].criterion(Evidence(trace, ev.runs, {}, ev.budget))
    assert v.numbers["lr_adagrad"] == grid[1]
    assert v.outcome == HOLDS


def test_claim5_without_runs_is_inconclusive():
    assert CLAIMS[5].criterion(_evidence([])).outcome == INCONCLUSIVE


# --------------------------------------------------------------------------- figures


SYNTHETIC = {
    1: lambda: _claim1(lambda k: 4 * k, lambda k: 4 * math.sqrt(k)),
    2: lambda: _claim2(lambda lr: 6 / lr, lambda lr: 1 / lr),
    3: lambda: _claim3(lambda x, s: 0.5),
    4: lambda: _claim4(lambda k, r, s: 0.5),
    5: lambda: _claim5(ada=(1e-2, 1e-2), rms=(1e-2, 1e-6)),
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

#: The verdicts measured with the quick budget (both seed sets).
MEASURED = {1: HOLDS, 2: HOLDS, 3: FAILS, 4: HOLDS, 5: FAILS}


@pytest.mark.parametrize("number", sorted(CLAIMS))
def test_quick_verdict_is_stable_across_seed_sets(number, tmp_path):
    claim = CLAIMS[number]
    outcomes = []
    for i, seeds in enumerate((None, (10, 11, 12, 13, 14))):
        budget = Budget.default(quick=True, seeds=seeds)
        # one directory: runs both seed sets share (claim 5's tuning runs) are run once
        evidence = collect(claim, budget, tmp_path)
        assert set(evidence.runs["status"]) <= {"converged", "max_steps"}
        verdict = claim.criterion(evidence)
        outcomes.append(verdict.outcome)
        if i == 0:
            draw_figure(number, evidence)
    assert outcomes == [MEASURED[number]] * 2
