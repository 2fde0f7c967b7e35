"""The claims runner: one study for every claim's runs, verdicts on file, resume,
failures kept to their claim, and the validation of budgets and verdicts.

The claims here are toys on a 2-D quadratic (tests/plugins/toy_claims.py and a few
defined below); the registry is restored after each test.
"""

from __future__ import annotations

import importlib
import json
import math
import sys

import pandas as pd
import pytest

import optbench
import optbench.study
from optbench import claims, store
from optbench.claims import FAILS, HOLDS, INCONCLUSIVE, Budget, Claim, Verdict
from optbench.claims import execute
from optbench.claims.execute import collect, load_verdicts, run_claims

PLUGIN = "tests.plugins.toy_claims"
HOLDING, FAILING = "toy-momentum-faster", "toy-sgd-faster"
SEEDS = (0, 1, 2)


@pytest.fixture
def registry():
    """Puts the claims registry (and the toy plugin's import) back as it was."""
    saved = {key: claims.get(key) for key in claims.names()}
    had_plugin = PLUGIN in sys.modules
    yield
    for key in claims.names():
        if key not in saved:
            claims.unregister(key)
    for claim in saved.values():
        claims.register(claim, replace=True)
    if not had_plugin:
        sys.modules.pop(PLUGIN, None)


@pytest.fixture
def toy(registry):
    """The toy plugin's two claims, registered; returns the module."""
    return importlib.import_module(PLUGIN)


def _like(toy, key: str, **changes) -> Claim:
    """A claim with the toy's arms and ``changes`` (a criterion, a measure...)."""
    base = dict(key=key, number=0, statement=f"{key} statement", experiment="toy experiment",
                statistic="toy statistic", arms=toy.arms, criterion=toy.momentum_faster)
    return claims.register(Claim(**{**base, **changes}))


def _raise(message: str):
    def fail(*_args):
        raise RuntimeError(message)
    return fail


def _counting_compute(monkeypatch) -> list[str]:
    """Count the runs the serial executor computes (optbench.study.compute calls)."""
    calls: list[str] = []
    real = optbench.study.compute

    def counted(spec_data, plugins=()):
        calls.append(spec_data["optimizer"])
        return real(spec_data, plugins)

    monkeypatch.setattr(optbench.study, "compute", counted)
    return calls


def test_run_claims_end_to_end_writes_the_verdicts_file(toy, tmp_path):
    tables = {"steps": pd.DataFrame({"k": [1, 2, 3], "size": [0.5, 0.25, 0.125]})}
    _like(toy, "toy-measured", measure=lambda budget: tables)
    keys = [HOLDING, FAILING, "toy-measured"]
    results = run_claims(keys, tmp_path, quick=True, seeds=SEEDS)
    assert [r.key for r in results] == keys
    assert [r.outcome for r in results] == [HOLDS, FAILS, HOLDS]
    assert all(r.error is None and r.failed_runs == [] for r in results)

    entries = {e["key"]: e for e in load_verdicts(tmp_path)}
    raw = json.loads((tmp_path / "claims" / "verdicts.json").read_text())
    assert raw["optbench"] == optbench.__version__ and raw["format"] == 1
    assert sorted(entries) == sorted(keys)
    entry = entries[HOLDING]
    assert entry["number"] == 0 and entry["statement"].startswith("Momentum gets further")
    assert entry["experiment"] == toy.COMMON["experiment"]
    assert entry["statistic"] == toy.COMMON["statistic"]
    assert entry["outcome"] == HOLDS and entry["error"] is None
    assert entry["budget"] == {"quick": True, "seeds": list(SEEDS)}
    assert entry["optbench"] == optbench.__version__
    assert set(entry["seconds"]) == {"arms", "measure", "criterion", "runs"}
    assert all(v >= 0 for v in entry["seconds"].values()) and entry["seconds"]["runs"] > 0
    assert entry["elapsed_seconds"] == pytest.approx(sum(entry["seconds"].values()), abs=1e-5)
    # the stored runs per arm are exactly the arms' specs, and their ratio is the one reported
    specs = {arm.name: [s.run_id() for s in arm.specs] for arm in toy.arms(Budget(True, SEEDS))}
    assert entry["runs"] == specs
    data = optbench.load(tmp_path)
    final = data.sort_values("step").groupby("run_id").tail(1).set_index("run_id")["subopt"]
    medians = {arm: final.loc[ids].median() for arm, ids in specs.items()}
    ratio = medians["momentum"] / medians["sgd"]
    assert entry["numbers"]["ratio"] == pytest.approx(ratio, rel=1e-12) and ratio < 0.5
    assert f"{ratio:.3g}" in entry["summary"]
    assert entries[FAILING]["numbers"] == entry["numbers"] and entries[FAILING]["outcome"] == FAILS
    # the measure tables as Parquet, named in the entry
    assert entries["toy-measured"]["tables"] == {"steps": "claims/toy-measured/steps.parquet"}
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "claims/toy-measured/steps.parquet"),
                                  tables["steps"])
    assert results[2].evidence is not None
    assert results[2].evidence.tables["steps"] is tables["steps"]
    # the runs carry their claims as tags (both toys share every run)
    keys_of_runs = set(data["claim.key"])
    assert keys_of_runs == {f"{HOLDING}, {FAILING}, toy-measured"}
    assert not list((tmp_path / "claims").glob(".*.tmp"))  # atomic writes leave no temporary


def test_evidence_holds_exactly_the_claims_runs_with_their_arm(toy, tmp_path):
    other = optbench.RunSpec(problem="quadratic", problem_params={"dim": 2}, optimizer="adam",
                             optimizer_params={"lr": 0.1}, steps=5)
    optbench.study.run_study([other], tmp_path)  # a run of no claim in the same directory
    (result,) = run_claims([HOLDING], tmp_path, quick=True, seeds=SEEDS)
    evidence = result.evidence
    assert set(evidence.trace["run_id"]) == {r for ids in result.run_ids.values() for r in ids}
    assert other.run_id() not in set(evidence.runs["run_id"])
    assert evidence.runs.groupby("arm").size().to_dict() == {"momentum": 3, "sgd": 3}
    assert set(evidence.final()["arm"]) == {"momentum", "sgd"} and len(evidence.final()) == 6
    assert evidence.budget == Budget(quick=True, seeds=SEEDS)


def test_running_again_reuses_the_stored_runs(toy, tmp_path, monkeypatch):
    calls = _counting_compute(monkeypatch)
    first = run_claims([HOLDING], tmp_path, quick=True, seeds=SEEDS)
    assert len(calls) == 6  # 2 arms x 3 seeds
    again = run_claims([HOLDING, FAILING], tmp_path, quick=True, seeds=SEEDS)
    assert len(calls) == 6  # the second claim's runs are the first's: nothing computed
    assert again[0].verdict == first[0].verdict
    run_claims([HOLDING], tmp_path, quick=True, seeds=(0, 1, 2, 3))
    assert len(calls) == 8  # one new seed, two arms


def test_all_claims_go_into_one_study(toy, tmp_path, monkeypatch):
    studies = []
    real = execute.run_study

    def spy(specs, results_dir, **kw):
        studies.append((len(specs), dict(kw["tags"])))
        return real(specs, results_dir, **kw)

    monkeypatch.setattr(execute, "run_study", spy)
    _like(toy, "toy-other-steps", arms=lambda b: toy.arms(Budget(False, b.seeds)))
    run_claims([HOLDING, FAILING, "toy-other-steps"], tmp_path, quick=True, seeds=SEEDS)
    assert len(studies) == 1
    n_specs, tags = studies[0]
    assert n_specs == 12  # 6 shared by the two toys, 6 of the longer runs
    assert sorted({t["claim.key"] for t in tags.values()}) == [f"{HOLDING}, {FAILING}", "toy-other-steps"]
    assert any(t["claim.arm"] == f"{HOLDING}/sgd, {FAILING}/sgd" for t in tags.values())


def test_process_pool_gives_the_serial_verdicts(toy, tmp_path):
    keys = [HOLDING, FAILING]
    serial = run_claims(keys, tmp_path / "serial", quick=True, seeds=SEEDS)
    pooled = run_claims(keys, tmp_path / "pool", quick=True, seeds=SEEDS, jobs=2, executor="process",
                        plugins=(PLUGIN,))
    assert [r.verdict for r in pooled] == [r.verdict for r in serial]  # outcome, summary, numbers
    assert [r.run_ids for r in pooled] == [r.run_ids for r in serial]
    a = {e["key"]: e for e in load_verdicts(tmp_path / "serial")}
    b = {e["key"]: e for e in load_verdicts(tmp_path / "pool")}
    for key in keys:
        assert a[key]["numbers"] == b[key]["numbers"] and a[key]["summary"] == b[key]["summary"]


def test_a_failing_claim_does_not_lose_the_others(toy, tmp_path):
    _like(toy, "toy-bad-criterion", criterion=_raise("criterion exploded"))
    _like(toy, "toy-bad-measure", measure=_raise("measure exploded"))
    _like(toy, "toy-bad-arms", arms=_raise("arms exploded"))
    _like(toy, "toy-not-a-verdict", criterion=lambda evidence: "holds")
    _like(toy, "toy-bad-table", measure=lambda budget: {"a/b": pd.DataFrame({"x": [1]})})
    keys = [HOLDING, "toy-bad-criterion", "toy-bad-measure", "toy-bad-arms", "toy-not-a-verdict",
            "toy-bad-table", FAILING]
    results = {r.key: r for r in run_claims(keys, tmp_path, quick=True, seeds=SEEDS)}
    assert results[HOLDING].outcome == HOLDS and results[FAILING].outcome == FAILS
    expected = {
        "toy-bad-criterion": "criterion: RuntimeError: criterion exploded",
        "toy-bad-measure": "measure: RuntimeError: measure exploded",
        "toy-bad-arms": "arms: RuntimeError: arms exploded",
        "toy-not-a-verdict": "criterion: TypeError: criterion returned str, not a Verdict",
        "toy-bad-table": "measure: ValueError: table names must be",
    }
    entries = {e["key"]: e for e in load_verdicts(tmp_path)}
    for key, error in expected.items():
        assert results[key].outcome == INCONCLUSIVE
        assert results[key].error.startswith(error), results[key].error
        assert error in results[key].verdict.summary
        assert entries[key]["outcome"] == INCONCLUSIVE and entries[key]["error"].startswith(error)
    assert entries["toy-bad-arms"]["runs"] == {}
    assert entries[HOLDING]["error"] is None and entries[HOLDING]["outcome"] == HOLDS


def test_failed_runs_are_listed_and_the_criterion_still_decides(toy, tmp_path):
    def arms(budget):
        good = toy.arms(budget)
        bad = claims.Arm("bad-lr", tuple(optbench.RunSpec(
            problem="quadratic", problem_params={"dim": 2}, optimizer="sgd",
            optimizer_params={"lr": -1.0}, seed=s, steps=3) for s in budget.seeds))
        return [*good, bad]

    _like(toy, "toy-with-errors", arms=arms)
    (result,) = run_claims(["toy-with-errors"], tmp_path, quick=True, seeds=SEEDS)
    assert result.outcome == HOLDS and result.error is None
    assert sorted(result.failed_runs) == sorted(result.run_ids["bad-lr"]) and len(result.failed_runs) == 3
    assert set(result.evidence.runs.loc[result.evidence.runs["arm"] == "bad-lr", "status"]) == {"error"}


def test_verdicts_of_other_claims_are_kept_and_a_rerun_replaces_its_own(toy, tmp_path):
    run_claims([HOLDING], tmp_path, quick=True, seeds=SEEDS)
    run_claims([FAILING], tmp_path, quick=False, seeds=(0, 1))
    entries = {e["key"]: e for e in load_verdicts(tmp_path)}
    assert entries[HOLDING]["budget"] == {"quick": True, "seeds": [0, 1, 2]}
    assert entries[FAILING]["budget"] == {"quick": False, "seeds": [0, 1]}
    run_claims([HOLDING], tmp_path, quick=False, seeds=(0, 1))
    entries = {e["key"]: e for e in load_verdicts(tmp_path)}
    assert entries[HOLDING]["budget"] == {"quick": False, "seeds": [0, 1]}
    assert len(entries) == 2


def test_stale_tables_of_a_claim_are_removed(toy, tmp_path):
    tables = {"a": pd.DataFrame({"x": [1.0]}), "b": pd.DataFrame({"x": [2.0]})}
    _like(toy, "toy-tables", measure=lambda budget: dict(tables))
    run_claims(["toy-tables"], tmp_path, quick=True, seeds=SEEDS)
    assert sorted(execute.load_tables(tmp_path, "toy-tables")) == ["a", "b"]
    del tables["b"]
    run_claims(["toy-tables"], tmp_path, quick=True, seeds=SEEDS)
    assert sorted(execute.load_tables(tmp_path, "toy-tables")) == ["a"]


def test_non_finite_numbers_are_written_as_null(toy, tmp_path):
    _like(toy, "toy-nan", criterion=lambda ev: Verdict(INCONCLUSIVE, "no data", {"ratio": math.nan}))
    run_claims(["toy-nan"], tmp_path, quick=True, seeds=SEEDS)
    text = (tmp_path / "claims" / "verdicts.json").read_text()
    assert "NaN" not in text
    (entry,) = load_verdicts(tmp_path)
    assert entry["numbers"] == {"ratio": None}


def test_bad_arguments_raise_before_anything_runs(toy, tmp_path):
    target = tmp_path / "never"
    for kwargs in ({"seeds": [0]}, {"seeds": [1, 1]}, {"seeds": [-1, 2]}, {"seeds": ["a", 1]}):
        with pytest.raises(ValueError, match="seeds|invalid literal"):
            run_claims([HOLDING], target, **kwargs)
    with pytest.raises(ValueError, match="unknown claim 'nope'"):
        run_claims([HOLDING, "nope"], target)
    with pytest.raises(ValueError, match="no claims selected"):
        run_claims([], target)
    with pytest.raises(ValueError, match="unknown claim 'toy'"):
        run_claims("toy", target)  # one key as a string, not its letters
    with pytest.raises(ValueError, match="executor"):
        run_claims([HOLDING], target, quick=True, executor="threads")
    assert not target.exists()
    with pytest.raises(ImportError):
        run_claims([HOLDING], target, plugins=["tests.plugins.no_such_plugin"])


def test_budget_validation_and_defaults():
    assert Budget.default() == Budget(quick=False, seeds=(0, 1, 2, 3, 4, 5, 6, 7))
    assert Budget.default(quick=True) == Budget(quick=True, seeds=(0, 1, 2, 3, 4))
    assert Budget.default(seeds=[3, 1]).seeds == (3, 1)
    for seeds in ([0], [2, 2], [0, -1], []):
        with pytest.raises(ValueError, match="at least 2 distinct integers >= 0"):
            Budget.default(seeds=seeds)


def test_verdict_validation():
    with pytest.raises(ValueError, match="outcome must be one of"):
        Verdict("maybe", "x")
    with pytest.raises(ValueError):
        Verdict(HOLDS, "x", {"ratio": "large"})
    verdict = Verdict(FAILS, "x", {"ratio": 2, "inf": math.inf})
    assert verdict.numbers == {"ratio": 2.0, "inf": math.inf}
    assert verdict.to_dict() == {"outcome": FAILS, "summary": "x", "numbers": {"ratio": 2.0, "inf": None},
                                 "by_setting": {}}


def test_a_verdict_map_is_checked_kept_in_order_and_said_in_one_line():
    with pytest.raises(ValueError, match="the outcome at 'equal lr' must be one of"):
        Verdict(HOLDS, "x", by_setting={"equal lr": "true"})
    swept = {"500 steps": FAILS, "1000 steps": FAILS, "2000 steps": INCONCLUSIVE, "4000 steps": HOLDS}
    verdict = Verdict(HOLDS, "x", by_setting=swept)
    assert list(verdict.to_dict()["by_setting"]) == list(swept)
    assert claims.map_text(verdict.by_setting) == (
        "does not hold at 500 steps, 1000 steps; inconclusive at 2000 steps; holds at 4000 steps")
    assert claims.map_text({}) == ""


def test_a_claim_is_a_claim_or_a_check(toy):  # noqa: F811
    holding = claims.get(HOLDING)
    assert holding.kind == "claim"
    from dataclasses import replace

    assert replace(holding, kind="check").kind == "check"
    with pytest.raises(ValueError, match="kind must be one of"):
        replace(holding, kind="fact")


def test_load_verdicts_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no claim verdicts"):
        load_verdicts(tmp_path)
    path = tmp_path / "claims" / "verdicts.json"
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable verdicts file"):
        load_verdicts(tmp_path)
    path.write_text('{"claims": [{"number": 1}]}')
    with pytest.raises(ValueError, match="not a verdicts file"):
        load_verdicts(tmp_path)


def test_unregister_removes_a_claim(toy):
    claim = claims.unregister(HOLDING)
    assert claim.key == HOLDING and HOLDING not in claims.names()
    with pytest.raises(ValueError, match="unknown claim"):
        claims.unregister(HOLDING)
    claims.register(claim)
    assert HOLDING in claims.names()


def test_collect_keeps_working(toy, tmp_path):
    claim = claims.get(HOLDING)
    budget = Budget(quick=True, seeds=SEEDS)
    evidence = collect(claim, budget, tmp_path)
    assert len(store.runs(tmp_path)) == 6 and set(evidence.trace["arm"]) == {"sgd", "momentum"}
    assert execute.evaluate(claim, evidence).outcome == HOLDS


def test_arms_may_be_empty_only_beside_a_measure(registry, tmp_path):
    """A check computed from tables alone runs nothing; a claim with neither is refused."""
    def criterion(evidence):
        return Verdict(HOLDS if evidence.tables["t"]["x"].sum() == 3 else FAILS, "sum")

    claims.register(Claim(key="only-measured", number=0, statement="s", experiment="e",
                     statistic="t", arms=lambda b: [], criterion=criterion, kind="check",
                     measure=lambda b: {"t": pd.DataFrame({"x": [1, 2]})}))
    claims.register(Claim(key="nothing-at-all", number=0, statement="s", experiment="e",
                  statistic="t", arms=lambda b: [], criterion=criterion))
    results = run_claims(["only-measured", "nothing-at-all"], tmp_path, quick=True, seeds=SEEDS)
    assert results[0].outcome == HOLDS and results[0].error is None
    assert results[1].outcome == INCONCLUSIVE and "non-empty list of Arm" in results[1].error


def test_side_and_combined_are_the_outcome_rules():
    """One interval against a threshold, and a claim over its settings."""
    from optbench.claims.base import combined, side

    assert side(1.1, 2.0, 1.0, "above") == HOLDS and side(0.1, 0.9, 1.0, "above") == FAILS
    assert side(0.1, 0.9, 1.0, "below") == HOLDS and side(0.5, 1.5, 1.0, "below") == INCONCLUSIVE
    assert side(math.nan, 2.0, 1.0, "above") == INCONCLUSIVE
    with pytest.raises(ValueError, match="above"):
        side(0.0, 1.0, 0.5, "beside")
    assert combined([HOLDS, HOLDS]) == HOLDS
    assert combined([HOLDS, INCONCLUSIVE]) == INCONCLUSIVE
    assert combined([INCONCLUSIVE, FAILS, HOLDS]) == FAILS
    assert combined([]) == INCONCLUSIVE  # no setting measured is no evidence


def test_verdict_text_puts_the_map_before_the_summary():
    """The CLI's and the report's tables print a verdict through this one function."""
    from optbench.claims import verdict_text

    assert verdict_text({}, "ratio 2.") == "ratio 2."
    assert verdict_text({"a": HOLDS, "b": FAILS, "c": HOLDS}, "ratio 2.") == (
        "By setting: holds at a, c; does not hold at b. ratio 2.")
