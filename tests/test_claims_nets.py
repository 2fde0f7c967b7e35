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


def test_search_arms_same_budget_and_fewer_grid_lrs():
    grid, random = search.search_arms(QUICK)
    searches = search.search_seeds(QUICK)
    assert len(searches) == len(set(searches)) == 2 * len(QUICK.seeds)
    assert len(grid.specs) == len(random.specs) == search.SEARCH_TRIALS * len(searches)
    seed0 = [s for s in grid.specs if s.seed == 0]
    assert len({s.optimizer_params["lr"] for s in seed0}) == 3
    seed0 = [s for s in random.specs if s.seed == 0]
    assert len({s.optimizer_params["lr"] for s in seed0}) == search.SEARCH_TRIALS


# ------------------------------------------------------------------------- helpers


def test_ratio_divergence_convention():
    r = paired_statistics.ratio(np.array([1.0, np.inf, 2.0, np.inf]), np.array([2.0, 1.0, np.inf, np.inf]))
    assert r[0] == 0.5 and r[1] == np.inf and r[2] == 0.0 and math.isnan(r[3])


def test_side_rule():
    assert paired_statistics.side(0.2, 0.9, 1.0, "below") == HOLDS
    assert paired_statistics.side(1.1, 3.0, 1.0, "below") == FAILS
    assert paired_statistics.side(0.5, 1.5, 1.0, "below") == INCONCLUSIVE
    assert paired_statistics.side(math.nan, 0.5, 1.0, "below") == INCONCLUSIVE
    assert paired_statistics.side(0.1, 0.3, 0.0, "above") == HOLDS


def test_final_values_diverged_is_inf_and_failed_counted():
    ev = evidence([{"arm": "a", "seed": 0, "loss": 1.0},
                   {"arm": "a", "seed": 1, "loss": 5.0, "status": "diverged"},
                   {"arm": "a", "seed": 2, "loss": np.nan}], errors=2)
    values = run_tables.final_values(ev).set_index("seed")["value"]
    assert values[0] == 1.0 and values[1] == np.inf and values[2] == np.inf
    assert run_tables.failed(ev) == 2


# ----------------------------------------------------------------- claim 10 criterion


def init_evidence(shape: str, losses: str, seed: int = 0) -> Evidence:
    rng = np.random.default_rng(seed)
    seeds = QUICK.seeds
    act = []
    for init in weight_init.INIT_SCHEMES:
        for s in seeds:
            for layer in range(1, 5):
                if init == "small":
                    std, sat = 0.05 * 0.05 ** layer, 0.0
                elif init == "large":
                    std, sat = 0.93, 0.6
                else:
                    std, sat = 0.5, 0.01
                if shape == "xavier-saturates" and init == "xavier":
                    std, sat = 0.93, 0.6
                act.append({"init": init, "seed": s, "layer": layer, "std": std, "frac_saturated": sat})
    rows = []
    for init in weight_init.INIT_SCHEMES:
        for s in seeds:
            good = init in weight_init.INIT_GOOD
            if losses == "clear":
                centre = 0.1 if good else 2.0
            else:  # "mixed": no systematic difference
                centre = 1.0
            rows.append({"arm": init, "seed": s, "loss": noisy(rng, centre, 0.5)})
    return evidence(rows, tables={"activations": pd.DataFrame(act)})


def test_init_criterion_outcomes():
    assert weight_init.init_criterion(init_evidence("expected", "clear")).outcome == HOLDS
    assert weight_init.init_criterion(init_evidence("xavier-saturates", "clear")).outcome == FAILS
    mixed = weight_init.init_criterion(init_evidence("expected", "mixed"))
    assert mixed.outcome == INCONCLUSIVE


def test_init_criterion_rule_and_numbers():
    verdict = weight_init.init_criterion(init_evidence("expected", "clear"))
    n = verdict.numbers
    assert n["share_vanish_small"] == 1.0 and n["share_saturate_large"] == 1.0
    assert n["ratio_xavier_small_high"] < 1.0
    # the losses' wrong way round: a good init that learns worse does not hold
    ev = init_evidence("expected", "clear")
    ev.trace["loss"] = ev.trace.apply(
        lambda r: r["loss"] * (100.0 if r["arm"] == "xavier" else 1.0), axis=1)
    assert weight_init.init_criterion(ev).outcome == FAILS
    assert weight_init.init_criterion(evidence([], tables={})).outcome == INCONCLUSIVE


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


def test_trainable_width():
    lrs = (0.01, 0.1, 1.0)
    values = np.array([[1.0, 0.1, np.inf], [1.0, 0.2, 0.3], [np.nan, 0.1, np.inf]])
    assert bn.trainable_width(values, lrs, 0.5) == pytest.approx(1.0)
    assert bn.trainable_width(values, lrs, 2.0) == pytest.approx(2.0)
    half = (0.01, 10 ** -1.5, 0.1)
    assert bn.trainable_width(values, half, 0.5) == pytest.approx(0.5)


def bn_evidence(effect: str, seed: int = 0) -> Evidence:
    rng = np.random.default_rng(seed)
    lrs = bn.bn_lrs(QUICK)
    rows = []
    for kind in ("plain", "batchnorm"):
        wide = {"clear": kind == "batchnorm", "none": False, "mixed": None}[effect]
        for j, lr in enumerate(lrs):
            for s in QUICK.seeds:
                good = 3 <= j <= 4 or (wide and j in (2, 5))
                if effect == "mixed" and kind == "batchnorm" and j in (2, 5):
                    good = rng.random() < 0.5  # batch norm wider on about half the seeds
                loss = noisy(rng, 0.1 if good else 0.9, 0.2)
                status = "diverged" if j == len(lrs) - 1 else "max_steps"
                rows.append({"arm": f"{kind}/{run_tables.lr_name(lr)}", "seed": s, "loss": loss,
                             "status": status})
    return evidence(rows)


def test_bn_criterion_outcomes():
    clear = bn.bn_criterion(bn_evidence("clear"))
    assert clear.outcome == HOLDS
    assert clear.numbers["width_diff"] == pytest.approx(1.0)
    assert clear.numbers["diverged_plain"] == len(QUICK.seeds)
    assert bn.bn_criterion(bn_evidence("none")).outcome == FAILS
    assert bn.bn_criterion(bn_evidence("mixed", seed=0)).outcome == INCONCLUSIVE


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


def test_ens_criterion_outcomes():
    up = [0.004, 0.006, 0.002, 0.008, 0.004]
    down = [-0.004, -0.002, -0.006, -0.004, -0.002]
    mixed = [0.004, -0.004, 0.002, -0.002, 0.0]
    holds = ens.ens_criterion(evidence([], tables={"ensembles": ens_table(
        {"independent": up, "snapshot": up, "polyak": up})}))
    assert holds.outcome == HOLDS
    assert holds.numbers["independent_gain"] == pytest.approx(np.mean(up))
    fails = ens.ens_criterion(evidence([], tables={"ensembles": ens_table(
        {"independent": up, "snapshot": up, "polyak": down})}))
    assert fails.outcome == FAILS
    assert fails.numbers["independent_holds"] == 1.0 and fails.numbers["polyak_holds"] == 0.0
    assert "polyak" in fails.summary and "does not hold" in fails.summary
    unclear = ens.ens_criterion(evidence([], tables={"ensembles": ens_table(
        {"independent": up, "snapshot": mixed, "polyak": up})}))
    assert unclear.outcome == INCONCLUSIVE
    assert ens.ens_criterion(evidence([])).outcome == INCONCLUSIVE


# ----------------------------------------------------------------- claim 14 criterion


def search_evidence(effect: str, seed: int = 0, random_distinct: int = 9) -> Evidence:
    rng = np.random.default_rng(seed)
    rows = []
    for s in QUICK.seeds:
        for arm in ("grid", "random"):
            lrs = [1e-5, 1e-2, 10.0] if arm == "grid" else list(np.geomspace(1e-4, 1.0, random_distinct))
            trials = [(lr, b2) for lr in lrs for b2 in (0.99, 0.995, 0.9999)]
            if arm == "random":
                trials = [(lrs[i % len(lrs)], 0.99 + 0.001 * i) for i in range(9)]
            for lr, b2 in trials:
                level = {"clear": 0.01 if arm == "random" else 0.1,
                         "reverse": 0.1 if arm == "random" else 0.01,
                         "mixed": 0.05}[effect]
                value = noisy(rng, level, 1.0) * (1 + abs(np.log10(lr) + 1))
                status = "diverged" if lr == 10.0 else "max_steps"
                rows.append({"arm": arm, "seed": s, "optimizer.lr": lr, "optimizer.beta2": b2,
                             "loss": value, "subopt": value, "status": status})
    return evidence(rows)


def test_search_criterion_outcomes():
    holds = search.search_criterion(search_evidence("clear"))
    assert holds.outcome == HOLDS
    assert holds.numbers["distinct_random"] == 9 and holds.numbers["distinct_grid"] == 3
    assert search.search_criterion(search_evidence("reverse")).outcome == FAILS
    assert search.search_criterion(search_evidence("mixed", seed=1)).outcome == INCONCLUSIVE
    ev = search_evidence("clear")
    ev.runs = pd.concat([ev.runs, pd.DataFrame({"run_id": ["e0", "e1"], "arm": "grid",
                                                "status": "error"})], ignore_index=True)
    assert "2 run(s) failed" in search.search_criterion(ev).summary
    # random search that tries no more learning rates than the grid does not hold
    assert search.search_criterion(search_evidence("clear", random_distinct=3)).outcome == FAILS


# ------------------------------------------------------------------------- figures


def test_figures_on_synthetic_evidence():
    cases = [
        (weight_init.CLAIM, init_evidence("expected", "clear")),
        (input_norm.CLAIM, norm_evidence("clear")),
        (bn.CLAIM, bn_evidence("clear")),
        (ens.CLAIM, evidence([], tables={"ensembles": ens_table(
            {"independent": [0.01] * 5, "snapshot": [0.0] * 5, "polyak": [-0.01] * 5})})),
        (search.CLAIM, search_evidence("clear")),
    ]
    for claim, ev in cases:
        fig = figure_for(claim.key)(ev)
        assert isinstance(fig, Figure)
        assert f"Claim {claim.number}" in fig._suptitle.get_text()
        assert_legible(fig, claim.key)


# ------------------------------------------------------- the quick experiments, measured

#: Verdicts measured with --quick on the default seeds and on seeds 10-14.
MEASURED = {
    "weight-initialization": HOLDS,
    "input-normalization": HOLDS,
    "input-normalization-conditioning": HOLDS,
    "batchnorm-lr-range": HOLDS,
    "ensembles": FAILS,
    "random-vs-grid-search": INCONCLUSIVE,
}


@pytest.mark.parametrize("key", sorted(MEASURED))
def test_quick_verdicts_stable_across_seeds(key, tmp_path):
    claim = CLAIMS[key]
    for budget in (QUICK, OTHER):
        ev = collect(claim, budget, tmp_path / str(budget.seeds[0]))
        verdict = claim.criterion(ev)
        assert verdict.outcome == MEASURED[key], (budget.seeds, verdict.summary)
        assert run_tables.failed(ev) == 0
    if claim.kind == "check" and figure_for(key) is None:
        return
    fig = figure_for(key)(ev)  # on real evidence (the second seed set)
    assert isinstance(fig, Figure)
    assert_legible(fig, key)
