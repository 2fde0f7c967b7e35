"""Claims 10-14 (the package optbench.claims.nets, one module per claim): arms, criteria on
hand-built evidence, figures (reports.claim_figures.nets), and the quick experiments'
verdicts on two seed sets."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from optbench.claims import FAILS, HOLDS, INCONCLUSIVE, Budget, Evidence
from optbench.claims.base import side
from optbench.claims.execute import collect
from optbench.claims.nets import CLAIMS as NETS_CLAIMS
from optbench.claims.nets import batchnorm_lr_range as bn
from optbench.claims.nets import ensembles as ens
from optbench.claims.nets import input_normalization as input_norm
from optbench.claims.nets import paired_statistics, run_tables
from optbench.claims.nets import random_vs_grid_search as search
from optbench.claims.nets import weight_initialization as weight_init
from reports.claim_figures import figure_for
from reports.style import MIN_FONT_PT, PAGE_WIDTH_IN, smallest_text_pt
from tests.test_claims_sizes import expected

QUICK = Budget.default(quick=True)
FULL = Budget.default()
OTHER = Budget.default(quick=True, seeds=(10, 11, 12, 13, 14))
CLAIMS = {c.key: c for c in NETS_CLAIMS}


# ------------------------------------------------------------------ hand-built evidence


def evidence(rows: list[dict], budget: Budget = QUICK, tables: dict | None = None,
             errors: int = 0) -> Evidence:
    """Evidence from final-row dicts (``arm``, ``seed``, ``loss``... ; ``step`` defaults to
    the last step 10; rows with the same ``run_id`` are one run's trace)."""
    trace = pd.DataFrame(rows)
    if trace.empty:
        trace = pd.DataFrame(columns=["run_id", "arm", "seed", "step", "loss", "status"])
    if "run_id" not in trace:
        trace["run_id"] = [f"r{i}" for i in range(len(trace))]
    if "step" not in trace:
        trace["step"] = 10
    if "status" not in trace:
        trace["status"] = "max_steps"
    runs = trace.groupby("run_id").agg(arm=("arm", "first"), status=("status", "first")).reset_index()
    extra = pd.DataFrame({"run_id": [f"err{i}" for i in range(errors)], "arm": "x", "status": "error"})
    runs = pd.concat([runs, extra], ignore_index=True)
    return Evidence(trace=trace, runs=runs, tables=tables or {}, budget=budget)


def noisy(rng: np.random.Generator, centre: float, spread: float = 0.1) -> float:
    return float(centre * np.exp(spread * rng.standard_normal()))


# ------------------------------------------------------------------------------ arms


@pytest.mark.parametrize("claim", NETS_CLAIMS, ids=lambda c: c.key)
def test_arms_well_formed(claim):
    for budget in (QUICK, FULL):
        arms = claim.arms(budget)
        ids = [spec.run_id() for arm in arms for spec in arm.specs]
        assert len(ids) == len(set(ids))
        assert len({arm.name for arm in arms}) == len(arms)
        for arm in arms:
            seeds = {spec.seed for spec in arm.specs}
            assert len(seeds) >= 2, arm.name
            assert set(budget.seeds) <= seeds, arm.name
    work = {b: sum(s.steps for a in claim.arms(b) for s in a.specs) for b in (QUICK, FULL)}
    assert work[QUICK] < work[FULL] or (claim.kind == "check" and work[FULL] == 0)


def test_claims_numbered_in_order_with_text():
    assert [c.number for c in NETS_CLAIMS] == [10, 11, 11, 12, 13, 14]
    assert [c.key for c in NETS_CLAIMS if c.kind == "check"] == ["input-normalization-conditioning"]
    for claim in NETS_CLAIMS:
        assert len(claim.statistic) > 100 and len(claim.experiment) > 100


def test_every_claim_has_its_figure_in_reports_and_none_of_its_own():
    for claim in NETS_CLAIMS:
        assert claim.figure is None, claim.key  # optbench draws nothing: reports does
        # the conditioning check's numbers are drawn in claim 11's figure
        assert callable(figure_for(claim.key)) or claim.kind == "check", claim.key


def assert_legible(fig: Figure, key: str) -> None:
    """Every text reads at MIN_FONT_PT or more at the page's width, which the figure fits."""
    assert smallest_text_pt(fig) >= MIN_FONT_PT, key
    assert fig.get_figwidth() <= PAGE_WIDTH_IN, key


def test_norm_tuning_seeds_are_not_evaluation_seeds():
    tune = input_norm.tune_seeds(QUICK)
    assert len(tune) == 2 and not set(tune) & set(QUICK.seeds)


def test_search_arms_equal_budgets_and_shifted_grids():
    arms = {arm.name: arm for arm in search.search_arms(QUICK)}
    searches = search.search_seeds(QUICK)
    assert len(searches) == len(set(searches)) == 30
    random = [s for name, arm in arms.items() if name.startswith("random") for s in arm.specs]
    for n in search.SEARCH_BUDGETS:
        assert len(arms[f"grid {n}"].specs) == n * len(searches)
    assert len(random) == max(search.SEARCH_BUDGETS) * len(searches)
    lrs = {}
    for seed in searches[:3]:
        grid = [s.optimizer_params for s in arms["grid 27"].specs if s.seed == seed]
        assert all(len({g[k] for g in grid}) == 3 for k in ("lr", "beta2", "eps"))
        lrs[seed] = sorted({g["lr"] for g in grid})
        steps = np.diff(np.log10(lrs[seed]))
        assert steps == pytest.approx([2.0, 2.0])  # the range's 6 decades in 3 cells
        rand = [s.optimizer_params["lr"] for s in random if s.seed == seed]
        assert len(set(rand)) == 27
    assert len({lr[0] for lr in lrs.values()}) == 3  # a fresh offset per search


def test_shifted_grid_is_one_offset_per_dimension():
    space = search.search_space()
    grid = search.shifted_grid(space, 2, np.random.default_rng(3))
    assert len(grid) == 8
    for name, dim in space.items():
        positions = sorted({dim.position(point[name]) for point in grid})
        assert positions[1] - positions[0] == pytest.approx(0.5)
        assert 0.0 <= positions[0] < 0.5


# ------------------------------------------------------------------------- helpers


def test_ratio_divergence_convention():
    r = paired_statistics.ratio(np.array([1.0, np.inf, 2.0, np.inf]), np.array([2.0, 1.0, np.inf, np.inf]))
    assert r[0] == 0.5 and r[1] == np.inf and r[2] == 0.0 and math.isnan(r[3])


def test_side_rule():
    assert side(0.2, 0.9, 1.0, "below") == HOLDS
    assert side(1.1, 3.0, 1.0, "below") == FAILS
    assert side(0.5, 1.5, 1.0, "below") == INCONCLUSIVE
    assert side(math.nan, 0.5, 1.0, "below") == INCONCLUSIVE
    assert side(0.1, 0.3, 0.0, "above") == HOLDS


def test_final_values_diverged_is_inf_and_failed_counted():
    ev = evidence([{"arm": "a", "seed": 0, "loss": 1.0},
                   {"arm": "a", "seed": 1, "loss": 5.0, "status": "diverged"},
                   {"arm": "a", "seed": 2, "loss": np.nan}], errors=2)
    values = run_tables.final_values(ev).set_index("seed")["value"]
    assert values[0] == 1.0 and values[1] == np.inf and values[2] == np.inf
    assert run_tables.failed(ev) == 2


# ----------------------------------------------------------------- claim 10 criterion

INIT_NAMES = [run_tables.depth_name(d) for d in weight_init.INIT_DEPTHS]


def test_depths_named_and_deep_ones_decide():
    assert run_tables.depth_name(1) == "1 hidden layer"
    assert run_tables.depth_name(4) == "4 hidden layers"
    assert run_tables.deep_depths(weight_init.INIT_DEPTHS) == (4, 8)
    assert run_tables.deep_depths(bn.BN_DEPTHS) == (3, 6)
    # the texts state the sweep and the rule the code applies
    for claim, deep in ((weight_init.CLAIM, "(4 and 8)"), (bn.CLAIM, "(3 and 6)")):
        assert f">= {run_tables.DEEP_HIDDEN_LAYERS} hidden layers {deep}" in claim.statistic
        assert "do not enter the verdict" in claim.statistic
    assert "1, 2, 4, 8 hidden layers" in weight_init.CLAIM.experiment
    assert "1, 3, 6 hidden layers" in bn.CLAIM.experiment


def init_activations(shape: str, depth: int) -> list[dict]:
    """One depth's activation rows: ``expected`` (small vanishes, large saturates, Xavier
    and He well spread), ``no-vanish`` (small stays at std 0.05, as with one hidden
    layer), ``xavier-saturates``, or ``half-vanish`` (small vanishes on 3 of 5 seeds)."""
    rows = []
    for init in weight_init.INIT_SCHEMES:
        for i, s in enumerate(QUICK.seeds):
            for layer in range(1, depth + 1):
                if init == "small":
                    vanish = shape not in ("no-vanish", "half-vanish") or (shape == "half-vanish" and i < 3)
                    std, sat = (0.05 * 0.05 ** layer if vanish else 0.05), 0.0
                elif init == "large" or (shape == "xavier-saturates" and init == "xavier"):
                    std, sat = 0.93, 0.6
                else:
                    std, sat = 0.5, 0.01
                rows.append({"depth": depth, "init": init, "seed": s, "layer": layer, "std": std,
                             "frac_saturated": sat})
    return rows


def init_losses(losses: str, depth: int) -> list[dict]:
    """One depth's final losses: ``clear`` (good inits 20 times lower), ``reversed`` (20
    times higher), ``mixed`` (good/bad 2, 0.5, 2, 0.5, 1.5 by seed: no side), or
    ``missing`` (no runs)."""
    rng = np.random.default_rng(depth)
    rows = []
    for init in weight_init.INIT_SCHEMES:
        good = init in weight_init.INIT_GOOD
        for i, s in enumerate(QUICK.seeds):
            if losses == "missing":
                continue
            if losses == "mixed":
                loss = (2.0, 0.5, 2.0, 0.5, 1.5)[i] if good else 1.0
            else:
                low, high = (0.1, 2.0) if losses == "clear" else (2.0, 0.1)
                loss = noisy(rng, low if good else high, 0.5)
            rows.append({"arm": weight_init.init_arm(depth, init), "seed": s, "loss": loss})
    return rows


def init_evidence(depths: dict | None = None) -> Evidence:
    """Evidence of every depth of the sweep, each ``(shape, losses)`` as given in
    ``depths`` (by number of hidden layers) and ``("expected", "clear")`` otherwise."""
    depths = depths or {}
    act, rows = [], []
    for d in weight_init.INIT_DEPTHS:
        shape, losses = depths.get(d, ("expected", "clear"))
        act += init_activations(shape, d)
        rows += init_losses(losses, d)
    return evidence(rows, tables={"activations": pd.DataFrame(act)})


@pytest.mark.parametrize("shape, losses, outcome", [
    ("expected", "clear", HOLDS),
    ("no-vanish", "clear", FAILS),
    ("xavier-saturates", "clear", FAILS),
    ("expected", "reversed", FAILS),
    ("half-vanish", "clear", INCONCLUSIVE),
    ("expected", "mixed", INCONCLUSIVE),
    ("expected", "missing", INCONCLUSIVE),
])
def test_init_criterion_outcome_at_each_depth(shape, losses, outcome):
    """One depth's rule: shapes at x0 and the four paired loss ratios, combined."""
    verdict = weight_init.init_criterion(init_evidence(dict.fromkeys(weight_init.INIT_DEPTHS,
                                                                     (shape, losses))))
    assert verdict.by_setting == dict.fromkeys(INIT_NAMES, outcome), verdict.summary
    assert verdict.outcome == outcome


@pytest.mark.parametrize("depths, outcome, by_setting", [
    # the shallow depths (1, 2) do not enter the verdict, whatever they show
    ({1: ("no-vanish", "clear"), 2: ("expected", "reversed")}, HOLDS, [FAILS, FAILS, HOLDS, HOLDS]),
    ({1: ("expected", "mixed")}, HOLDS, [INCONCLUSIVE, HOLDS, HOLDS, HOLDS]),
    # the deep ones do: all must hold
    ({8: ("expected", "reversed")}, FAILS, [HOLDS, HOLDS, HOLDS, FAILS]),
    ({4: ("half-vanish", "clear")}, INCONCLUSIVE, [HOLDS, HOLDS, INCONCLUSIVE, HOLDS]),
    ({4: ("expected", "mixed"), 8: ("no-vanish", "clear")}, FAILS,
     [HOLDS, HOLDS, INCONCLUSIVE, FAILS]),
])
def test_init_criterion_combines_the_deep_depths(depths, outcome, by_setting):
    verdict = weight_init.init_criterion(init_evidence(depths))
    assert verdict.by_setting == dict(zip(INIT_NAMES, by_setting)), verdict.summary
    assert verdict.outcome == outcome


def test_init_criterion_numbers_per_depth():
    verdict = weight_init.init_criterion(init_evidence({1: ("no-vanish", "clear")}))
    n = verdict.numbers
    assert n["depth1_share_vanish_small"] == 0.0 and n["depth1_last_std_small"] == pytest.approx(0.05)
    assert n["depth8_share_vanish_small"] == 1.0 and n["depth8_share_saturate_large"] == 1.0
    assert n["depth8_last_std_small"] == pytest.approx(0.05 * 0.05 ** 8)
    for d in weight_init.INIT_DEPTHS:
        assert n[f"depth{d}_ratio_xavier_small_high"] < 1.0
        assert n[f"depth{d}_final_loss_small"] > n[f"depth{d}_final_loss_he"]
    assert n["deep_from"] == run_tables.DEEP_HIDDEN_LAYERS
    assert all(name in verdict.summary for name in INIT_NAMES)
    assert weight_init.init_criterion(evidence([], tables={})).outcome == INCONCLUSIVE


def test_init_arms_sweep_the_depth():
    arms = {arm.name: arm for arm in weight_init.init_arms(QUICK)}
    assert len(arms) == len(weight_init.INIT_DEPTHS) * len(weight_init.INIT_SCHEMES)
    for d in weight_init.INIT_DEPTHS:
        spec = arms[weight_init.init_arm(d, "xavier")].specs[0]
        assert spec.problem_params["hidden"] == [weight_init.INIT_WIDTH] * d
        assert spec.problem_params["init"] == "xavier"


# ----------------------------------------------------------------- claim 11 criterion


def norm_evidence(effect: str, seed: int = 0, kappa=(1e7, 100.0)) -> Evidence:
    rng = np.random.default_rng(seed)
    seeds = input_norm.tune_seeds(QUICK) + QUICK.seeds
    rows = []
    rid = 0
    for (family, condition) in input_norm.NORM_CONDITIONS:
        lrs = input_norm.NORM_LRS[family]
        best = 2 if condition == "raw" else len(lrs) - 2
        for j, lr in enumerate(lrs):
            for s in seeds:
                level = {"clear": 0.01 if condition == "standardized" else 0.5,
                         "reverse": 0.5 if condition == "standardized" else 0.01,
                         "mixed": 0.1}[effect]
                value = noisy(rng, level * 10.0 ** abs(j - best), 0.6)
                arm = f"{family}/{condition}/{run_tables.lr_name(lr)}"
                run = f"n{rid}"
                rid += 1
                base = {"run_id": run, "arm": arm, "seed": s, "optimizer.lr": lr, "status": "max_steps"}
                rows.append({**base, "step": 0, "loss": 1.0, "subopt": 1.0})
                rows.append({**base, "step": 10, "loss": value, "subopt": value})
    hess = pd.DataFrame({"condition": ["raw", "standardized"], "kappa": list(kappa)})
    return evidence(rows, tables={"hessian": hess})


def test_norm_criterion_outcomes():
    good = input_norm.norm_criterion(norm_evidence("clear"))
    assert good.outcome == HOLDS
    assert good.by_setting == {"logistic regression": HOLDS, "relu net on digits": HOLDS}
    assert good.numbers["kappa_ratio"] == pytest.approx(1e5)  # reported, decides nothing
    assert input_norm.norm_criterion(norm_evidence("reverse")).outcome == FAILS
    assert input_norm.norm_criterion(norm_evidence("mixed")).outcome == INCONCLUSIVE
    assert input_norm.norm_criterion(norm_evidence("clear", kappa=(100.0, 200.0))).outcome == HOLDS


@pytest.mark.parametrize("kappa, outcome", [((1e7, 100.0), HOLDS), ((100.0, 200.0), FAILS),
                                            ((500.0, 100.0), INCONCLUSIVE)])
def test_conditioning_check_outcomes(kappa, outcome):
    """The sensitivity half is a check of its own: the Hessian's condition ratio alone."""
    verdict = input_norm.conditioning_criterion(evidence([], tables={"hessian": pd.DataFrame(
        {"condition": ["raw", "standardized"], "kappa": list(kappa)})}))
    assert verdict.outcome == outcome
    assert input_norm.CHECK.kind == "check" and input_norm.CLAIM.kind == "claim"
    assert input_norm.conditioning_criterion(evidence([], tables={})).outcome == INCONCLUSIVE


def test_select_lr_uses_tuning_seeds_and_skips_diverged():
    values = pd.DataFrame({
        "lr": [0.1, 0.1, 1.0, 1.0, 0.01, 0.01, 0.1, 1.0],
        "seed": [1000, 1001, 1000, 1001, 1000, 1001, 0, 0],
        "value": [0.2, 0.3, 0.05, np.inf, 0.5, 0.4, 5.0, 0.001],
    })
    assert input_norm.select_lr(values, [1000, 1001]) == 0.1  # 1.0 diverged once; eval seed 0 ignored
    assert math.isnan(input_norm.select_lr(values, [7]))


# ----------------------------------------------------------------- claim 12 criterion

BN_NAMES = [run_tables.depth_name(d) for d in bn.BN_DEPTHS]


def test_trainable_width():
    lrs = (0.01, 0.1, 1.0)
    values = np.array([[1.0, 0.1, np.inf], [1.0, 0.2, 0.3], [np.nan, 0.1, np.inf]])
    assert bn.trainable_width(values, lrs, 0.5) == pytest.approx(1.0)
    assert bn.trainable_width(values, lrs, 2.0) == pytest.approx(2.0)
    half = (0.01, 10 ** -1.5, 0.1)
    assert bn.trainable_width(values, half, 0.5) == pytest.approx(0.5)


def bn_rows(effect: str, depth: int) -> list[dict]:
    """One depth's final losses: both nets trainable at grid rates 3 and 4 (1 decade),
    and batch norm also at rates 2 and 5: on every seed (``clear``), on seeds 0 and 2 of
    5 only (``mixed``), or never (``none``); ``reverse``: plain has the two extra rates;
    ``missing``: no runs.  The largest rate diverges."""
    rng = np.random.default_rng(depth)
    lrs = bn.bn_lrs(QUICK)
    rows = []
    for kind in bn.BN_KINDS:
        wider = kind == ("plain" if effect == "reverse" else "batchnorm")
        for j, lr in enumerate(lrs):
            for i, s in enumerate(QUICK.seeds):
                extra = {"clear": True, "reverse": True, "mixed": i in (0, 2)}.get(effect, False)
                good = 3 <= j <= 4 or (wider and extra and j in (2, 5))
                status = "diverged" if j == len(lrs) - 1 else "max_steps"
                if effect != "missing":
                    rows.append({"arm": bn.bn_arm(depth, kind, lr), "seed": s, "status": status,
                                 "loss": noisy(rng, 0.1 if good else 0.9, 0.1)})
    return rows


def bn_evidence(depths: dict | None = None) -> Evidence:
    """Evidence of every depth, each with the effect given in ``depths`` (by number of
    hidden layers) and ``clear`` otherwise."""
    depths = depths or {}
    return evidence([row for d in bn.BN_DEPTHS for row in bn_rows(depths.get(d, "clear"), d)])


@pytest.mark.parametrize("effect, outcome", [
    ("clear", HOLDS), ("none", FAILS), ("reverse", FAILS), ("mixed", INCONCLUSIVE),
    ("missing", INCONCLUSIVE),
])
def test_bn_criterion_outcome_at_each_depth(effect, outcome):
    """One depth's rule: the width difference batchnorm - plain, its interval against 0."""
    verdict = bn.bn_criterion(bn_evidence(dict.fromkeys(bn.BN_DEPTHS, effect)))
    assert verdict.by_setting == dict.fromkeys(BN_NAMES, outcome), verdict.summary
    assert verdict.outcome == outcome


@pytest.mark.parametrize("depths, outcome, by_setting", [
    # the shallow depth (1) does not enter the verdict, whatever it shows
    ({1: "reverse"}, HOLDS, [FAILS, HOLDS, HOLDS]),
    ({1: "mixed"}, HOLDS, [INCONCLUSIVE, HOLDS, HOLDS]),
    # the deep ones do: all must hold
    ({6: "none"}, FAILS, [HOLDS, HOLDS, FAILS]),
    ({3: "mixed"}, INCONCLUSIVE, [HOLDS, INCONCLUSIVE, HOLDS]),
    ({3: "mixed", 6: "reverse"}, FAILS, [HOLDS, INCONCLUSIVE, FAILS]),
    ({6: "missing"}, INCONCLUSIVE, [HOLDS, HOLDS, INCONCLUSIVE]),
])
def test_bn_criterion_combines_the_deep_depths(depths, outcome, by_setting):
    verdict = bn.bn_criterion(bn_evidence(depths))
    assert verdict.by_setting == dict(zip(BN_NAMES, by_setting)), verdict.summary
    assert verdict.outcome == outcome


def test_bn_criterion_numbers_per_depth():
    verdict = bn.bn_criterion(bn_evidence({1: "reverse", 3: "mixed"}))
    n = verdict.numbers
    assert n["depth6_width_diff"] == pytest.approx(1.0)
    assert n["depth6_diff_low"] == pytest.approx(1.0) == n["depth6_diff_high"]
    assert n["depth6_width_batchnorm"] == pytest.approx(2.0) and n["depth6_width_plain"] == pytest.approx(1.0)
    assert n["depth1_width_diff"] == pytest.approx(-1.0)
    # batch norm wider on 2 of 5 seeds: the median is not, some resamples are
    assert n["depth3_width_diff"] == 0.0 and n["depth3_diff_low"] == 0.0 < n["depth3_diff_high"]
    assert n["depth3_width_batchnorm_low"] <= n["depth3_width_batchnorm"] <= n["depth3_width_batchnorm_high"]
    assert n["depth6_diverged_plain"] == len(QUICK.seeds) == n["depth6_diverged_batchnorm"]
    assert n["deep_from"] == run_tables.DEEP_HIDDEN_LAYERS
    assert all(name in verdict.summary for name in BN_NAMES)


def test_bn_arms_sweep_the_depth():
    arms = {arm.name: arm for arm in bn.bn_arms(QUICK)}
    lrs = bn.bn_lrs(QUICK)
    assert len(arms) == len(bn.BN_DEPTHS) * len(bn.BN_KINDS) * len(lrs)
    for d in bn.BN_DEPTHS:
        spec = arms[bn.bn_arm(d, "batchnorm", lrs[0])].specs[0]
        assert spec.problem_params["hidden"] == [bn.BN_WIDTH] * d and spec.problem_params["batchnorm"]
        assert spec.problem_params["seed"] == spec.seed


# ----------------------------------------------------------------- claim 13 criterion


def ens_table(gains: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for i, rep in enumerate(QUICK.seeds):
        single = 0.95
        rows += [
            {"replicate": rep, "model": f"single seed={rep}", "kind": "single",
             "val_acc": single, "val_loss": 0.2},
            {"replicate": rep, "model": "median single", "kind": "summary",
             "val_acc": single, "val_loss": 0.2},
            {"replicate": rep, "model": "independent ensemble", "kind": "ensemble",
             "val_acc": single + gains["independent"][i], "val_loss": 0.15},
            {"replicate": rep, "model": "snapshot ensemble", "kind": "ensemble",
             "val_acc": single + gains["snapshot"][i], "val_loss": 0.18},
            {"replicate": rep, "model": "polyak average decay=0.995", "kind": "average",
             "val_acc": single + gains["polyak"][i], "val_loss": 0.25},
        ]
    return pd.DataFrame(rows)


ALL_METHODS = ("independent ensemble", "snapshot ensemble", "Polyak average")


@pytest.mark.parametrize("gains, outcome, by_setting", [
    ({}, HOLDS, dict.fromkeys(ALL_METHODS, HOLDS)),
    ({"polyak": "down"}, FAILS, {**dict.fromkeys(ALL_METHODS, HOLDS), "Polyak average": FAILS}),
    ({"snapshot": "mixed"}, INCONCLUSIVE,
     {**dict.fromkeys(ALL_METHODS, HOLDS), "snapshot ensemble": INCONCLUSIVE}),
    ({"independent": "mixed", "snapshot": "down"}, FAILS,
     {"independent ensemble": INCONCLUSIVE, "snapshot ensemble": FAILS, "Polyak average": HOLDS}),
])
def test_ens_criterion_outcomes(gains, outcome, by_setting):
    values = {"up": [0.004, 0.006, 0.002, 0.008, 0.004],
              "down": [-0.004, -0.002, -0.006, -0.004, -0.002],
              "mixed": [0.004, -0.004, 0.002, -0.002, 0.0]}
    table = ens_table({m: values[gains.get(m, "up")] for m in ens.ENS_METHODS})
    verdict = ens.ens_criterion(evidence([], tables={"ensembles": table}))
    assert verdict.outcome == outcome, verdict.summary
    assert verdict.by_setting == by_setting
    for m in ens.ENS_METHODS:
        assert verdict.numbers[f"{m}_gain"] == pytest.approx(np.mean(values[gains.get(m, "up")]))
        assert verdict.numbers[f"{m}_holds"] == float(by_setting[ens.METHOD_NAMES[m]] == HOLDS)
    assert ens.ens_criterion(evidence([])).outcome == INCONCLUSIVE


def test_polyak_average_is_the_single_models_own_run_after_burn_in(monkeypatch):
    # the first member's run keeps the average from step T/2 on (tests/test_averaging.py
    # checks Averaged's burn-in by hand and against the iterates); the others are plain
    monkeypatch.setattr(ens, "ENS_STEPS", 8)
    specs, real_run = [], ens._run
    monkeypatch.setattr(ens, "_run", lambda spec, snapshots: specs.append(spec) or real_run(spec, snapshots))
    table = ens.replicate_table(7, 2)
    assert specs[0].optimizer_params == {"lr": ens.ENS_LR, "average": ens.ENS_AVERAGE, "average_start": 4}
    assert specs[0].seed == 7 and specs[1].optimizer_params == {"lr": ens.ENS_LR}
    assert (table["kind"] == "average").sum() == 1


def test_second_half_change_from_the_arm_traces():
    half, end = ens.ENS_STEPS // 2, ens.ENS_STEPS
    rows = [{"run_id": f"r{i}", "arm": "single", "seed": i, "step": step, "loss": 1.0,
             "val_acc": acc} for i, (a, b) in enumerate([(0.80, 0.83), (0.90, 0.89), (0.70, 0.72)])
            for step, acc in ((0, 0.2), (half, a), (end, b))]
    assert ens.second_half_change(evidence(rows)) == pytest.approx(0.02)
    assert math.isnan(ens.second_half_change(evidence([])))


def test_ens_replicates_and_snapshots_in_second_half():
    assert ens.replicate_seeds(QUICK) == (0, 1, 2, 3, 4, 100, 101, 102, 103, 104)
    assert len(ens.replicate_seeds(FULL)) == 24
    table = ens.replicate_table(7, 2)
    assert list(table["model"]) == ["single seed=7", "single seed=1007", "median single",
                                    "independent ensemble", "snapshot ensemble",
                                    "polyak average decay=0.995"]
    assert table["val_acc"].between(0.5, 1).all() and (table["replicate"] == 7).all()


# ----------------------------------------------------------------- claim 14 criterion


def search_evidence(effect: dict[int, str], seed: int = 0) -> Evidence:
    """Every trial of the quick arms, scored ``"lr"`` (an objective of the lr alone, best at
    0.1: random search wins), ``"grid"`` (the grid of that budget is 100 times better)
    or ``"noise"`` (the same noise for every trial); lr > 5 diverges."""
    rng = np.random.default_rng(seed)
    rows = []
    for arm in search.search_arms(QUICK):
        budget = int(arm.name.split()[1]) if arm.name.startswith("grid") else None
        for spec in arm.specs:
            lr = spec.optimizer_params["lr"]
            kind = effect.get(budget, "lr") if budget else effect.get("random", "lr")
            value = (noisy(rng, 0.05, 1.0) if kind == "noise"
                     else 0.01 * 10 ** abs(np.log10(lr) + 1) * (0.01 if kind == "grid" else 1.0))
            rows.append({"arm": arm.name, "seed": spec.seed, "loss": value, "subopt": value,
                         "status": "diverged" if lr > 5 else "max_steps",
                         **{f"optimizer.{k}": v for k, v in spec.optimizer_params.items()}})
    return evidence(rows)


@pytest.mark.parametrize("effect, outcome, by_setting", [
    ({}, HOLDS, {"8 trials": HOLDS, "27 trials": HOLDS}),
    ({8: "grid", 27: "grid"}, FAILS, {"8 trials": FAILS, "27 trials": FAILS}),
    ({8: "grid"}, FAILS, {"8 trials": FAILS, "27 trials": HOLDS}),
    ({8: "noise", 27: "noise", "random": "noise"}, INCONCLUSIVE,
     {"8 trials": INCONCLUSIVE, "27 trials": INCONCLUSIVE}),
    ({8: "noise", "random": "noise"}, INCONCLUSIVE, {"8 trials": INCONCLUSIVE, "27 trials": HOLDS}),
])
def test_search_criterion_outcomes(effect, outcome, by_setting):
    verdict = search.search_criterion(search_evidence(effect))
    assert verdict.outcome == outcome, verdict.summary
    assert verdict.by_setting == by_setting
    assert verdict.numbers["searches"] == 30


def test_search_criterion_numbers_and_failed_runs():
    ev = search_evidence({})
    verdict = search.search_criterion(ev)
    n = verdict.numbers
    assert n["decades_over_lr"] > 1 and n["decades_over_beta2"] == 0 == n["decades_over_eps"]
    assert n["ratio_27"] < 1 and n["ratio_27_high"] < 1 and 0.5 < n["random_wins_27"] <= 1
    ev.runs = pd.concat([ev.runs, pd.DataFrame({"run_id": ["e0", "e1"], "arm": "grid 8",
                                                "status": "error"})], ignore_index=True)
    assert "2 run(s) failed" in search.search_criterion(ev).summary
    assert search.search_criterion(evidence([])).outcome == INCONCLUSIVE


# ------------------------------------------------------------------------- figures


def test_figures_on_synthetic_evidence():
    cases = [
        (weight_init.CLAIM, init_evidence({1: ("no-vanish", "clear")})),
        (input_norm.CLAIM, norm_evidence("clear")),
        (bn.CLAIM, bn_evidence({1: "reverse"})),
        (ens.CLAIM, evidence([], tables={"ensembles": ens_table(
            {"independent": [0.01] * 5, "snapshot": [0.0] * 5, "polyak": [-0.01] * 5})})),
        (search.CLAIM, search_evidence({})),
    ]
    for claim, ev in cases:
        fig = figure_for(claim.key)(ev)
        assert isinstance(fig, Figure)
        assert f"Claim {claim.number}" in fig._suptitle.get_text()
        assert_legible(fig, claim.key)


# ------------------------------------------------------- the quick experiments, measured

@pytest.mark.parametrize("key", [claim.key for claim in NETS_CLAIMS])
def test_quick_verdicts_stable_across_seeds(key, tmp_path):
    claim = CLAIMS[key]
    maps = []
    for budget in (QUICK, OTHER):
        ev = collect(claim, budget, tmp_path / str(budget.seeds[0]))
        verdict = claim.criterion(ev)
        assert run_tables.failed(ev) == 0
        maps.append((verdict.outcome, dict(verdict.by_setting)))
    assert maps == [expected(key)] * 2  # the last full run's verdict and map
    if claim.kind == "check" and figure_for(key) is None:
        return
    fig = figure_for(key)(ev)  # on real evidence (the second seed set)
    assert isinstance(fig, Figure)
    assert_legible(fig, key)
