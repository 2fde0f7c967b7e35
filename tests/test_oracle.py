"""Every run says which oracle its method saw (full batch, minibatch, noisy), and the
summary shows it: a whole-run solver that always sees the full objective is not ranked
as the equal of a method that steps on minibatches or gradient noise."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import optbench
import optimizers
import problems
from optbench.build import execute
from optbench.spec import RunSpec
from optbench.store import runs, stored_oracle, write_run
from optbench.study import run_study
from reports.summary import COLUMNS, format_summary, summary_notes, summary_table
from tests.conftest import DiagQuadratic

LOGISTIC = {"n_samples": 200, "n_features": 5, "batch_size": 16}
NOISY = {"dim": 4, "condition_number": 10.0, "noise": 0.5}


def _meta(problem, optimizer, steps=5):
    return optbench.run(problem, optimizer, steps=steps, seed=1).meta


# --------------------------------------------------------------------------- run() meta


def test_sgd_on_minibatch_logistic_sees_minibatches():
    problem = problems.get("logistic", **LOGISTIC)
    assert problem.stochastic
    assert _meta(problem, optimizers.get("sgd", lr=0.01))["oracle"] == "minibatch"


def test_sgd_on_the_noisy_quadratic_sees_noise():
    problem = problems.get("quadratic", **NOISY)
    assert problem.stochastic and problem.oracle_kind == "noisy"
    assert _meta(problem, optimizers.get("sgd", lr=0.05))["oracle"] == "noisy"


@pytest.mark.parametrize("name", ["lbfgs", "bfgs"])
def test_a_whole_run_solver_sees_the_full_batch_on_a_stochastic_problem(name):
    for problem in (problems.get("logistic", **LOGISTIC), problems.get("quadratic", **NOISY)):
        assert problem.stochastic
        assert _meta(problem, optimizers.get(name))["oracle"] == "full batch"


def test_sgd_on_a_deterministic_problem_sees_the_full_batch():
    for problem in (problems.get("quadratic", dim=4), problems.get("rosenbrock"),
                    problems.get("logistic", **{**LOGISTIC, "batch_size": None}),
                    problems.get("logistic", **{**LOGISTIC, "batch_size": 200})):
        assert not problem.stochastic
        assert _meta(problem, optimizers.get("sgd", lr=1e-3))["oracle"] == "full batch"


def test_newton_on_minibatch_logistic_sees_minibatches():
    problem = problems.get("logistic", **LOGISTIC)
    assert problem.has_hess
    assert _meta(problem, optimizers.get("newton"))["oracle"] == "minibatch"


def test_a_stochastic_problem_without_oracle_kind_is_stochastic():
    plugin = DiagQuadratic(stochastic=True, noise=0.1)  # duck-typed, no oracle_kind
    assert _meta(plugin, optimizers.get("sgd", lr=0.05))["oracle"] == "stochastic"
    assert _meta(DiagQuadratic(), optimizers.get("sgd", lr=0.05))["oracle"] == "full batch"


def test_the_oracle_is_metadata_and_leaves_the_trace_alone():
    problem = problems.get("quadratic", **NOISY)
    result = optbench.run(problem, optimizers.get("sgd", lr=0.05), steps=6, seed=2)
    assert list(result.trace.columns) == list(optbench.runner.TRACE_COLUMNS)
    # the same steps by hand: the minibatch stream is untouched by the new key
    rng, x = np.random.default_rng(2), problem.x0(2)
    for _ in range(6):
        x = x - 0.05 * problem.minibatch(rng).grad(x)
    np.testing.assert_array_equal(result.x, x)


# --------------------------------------------------------------------------- the store


def _spec(problem, problem_params, optimizer, optimizer_params=None, seed=0, steps=5):
    return RunSpec(problem=problem, problem_params=problem_params, optimizer=optimizer,
                   optimizer_params=optimizer_params or {}, seed=seed, steps=steps)


def test_a_stored_run_has_its_oracle_column(tmp_path):
    specs = [_spec("logistic", LOGISTIC, "sgd", {"lr": 0.01}),
             _spec("logistic", LOGISTIC, "lbfgs"),
             _spec("quadratic", NOISY, "sgd", {"lr": 0.05}),
             _spec("quadratic", {"dim": 4}, "sgd", {"lr": 0.05})]
    run_study(specs, tmp_path)
    want = {specs[0].run_id(): "minibatch", specs[1].run_id(): "full batch",
            specs[2].run_id(): "noisy", specs[3].run_id(): "full batch"}
    data = optbench.load(tmp_path)
    assert data.groupby("run_id")["oracle"].unique().map(list).to_dict() == {
        rid: [oracle] for rid, oracle in want.items()}
    assert runs(tmp_path).set_index("run_id")["oracle"].to_dict() == want


def _write_old_run(directory, spec, *, drop=("oracle",)):
    """Store ``spec``'s run as optbench stored it before runs recorded their oracle."""
    result = execute(spec)
    meta = {k: v for k, v in result.meta.items() if k not in drop}
    write_run(directory, spec, result.trace, status=result.status, meta=meta)


def test_a_run_stored_without_an_oracle_gets_it_from_its_spec(tmp_path):
    old = [
        # batch_size left to the family's default (32 of 200 rows): minibatch
        (_spec("logistic", {"n_samples": 200, "n_features": 5}, "sgd", {"lr": 0.01}), "minibatch"),
        (_spec("logistic", LOGISTIC, "newton"), "minibatch"),
        (_spec("logistic", {**LOGISTIC, "batch_size": None}, "sgd", {"lr": 0.01}), "full batch"),
        (_spec("logistic", {**LOGISTIC, "batch_size": 200}, "sgd", {"lr": 0.01}), "full batch"),
        (_spec("quadratic", NOISY, "sgd", {"lr": 0.05}), "noisy"),
        (_spec("quadratic", {"dim": 4}, "sgd", {"lr": 0.05}), "full batch"),
        (_spec("logistic", LOGISTIC, "lbfgs"), "full batch"),  # its record has "solver"
    ]
    for spec, _ in old:
        _write_old_run(tmp_path, spec)
    # a whole-run solver's run without a solver summary: the registry says it is one
    bare = _spec("quadratic", NOISY, "bfgs")
    _write_old_run(tmp_path, bare, drop=("oracle", "solver"))
    old.append((bare, "full batch"))
    want = {spec.run_id(): oracle for spec, oracle in old}
    assert len(want) == len(old)
    assert runs(tmp_path).set_index("run_id")["oracle"].to_dict() == want
    data = optbench.load(tmp_path)
    assert data.groupby("run_id")["oracle"].unique().map(list).to_dict() == {
        rid: [oracle] for rid, oracle in want.items()}
    # the fallback gives what the run gives now
    for spec, oracle in old:
        assert execute(spec).meta["oracle"] == oracle


def test_a_stored_oracle_wins_over_the_fallback():
    spec = _spec("quadratic", NOISY, "sgd", {"lr": 0.05}).to_dict()
    assert stored_oracle({"spec": spec}) == "noisy"
    assert stored_oracle({"spec": spec, "oracle": "stochastic"}) == "stochastic"
    assert stored_oracle({"spec": spec, "solver": {"nit": 3}}) == "full batch"
    unknown = {**spec, "problem": "no_such_family", "problem_params": {"batch_size": 8}}
    assert stored_oracle({"spec": unknown}) == "minibatch"  # the spec alone


# --------------------------------------------------------------------------- the summary


def _runs(problem: str, optimizer: str, oracles: list[str], finals: list[float]) -> pd.DataFrame:
    """One two-row run per oracle (f* = 0), with that oracle and final suboptimality."""
    frames = []
    for seed, (oracle, final) in enumerate(zip(oracles, finals)):
        frames.append(pd.DataFrame({
            "step": [0, 1], "loss": [1.0, final], "subopt": [1.0, final], "time": [0.0, 0.1],
            "n_grad": [0, 1], "cost": [0.0, 1.0], "run_id": f"{problem}-{optimizer}-{seed}",
            "problem": problem, "optimizer": optimizer, "seed": seed, "status": "max_steps",
            "problem_label": problem, "optimizer_label": optimizer, "oracle": oracle}))
    return pd.concat(frames, ignore_index=True)


MIXED = pd.concat([_runs("noisy", "lbfgs", ["full batch"] * 2, [1e-21, 1e-20]),
                   _runs("noisy", "sgd", ["noisy"] * 2, [1e-3, 2e-3]),
                   _runs("plain", "sgd", ["full batch"] * 2, [1e-8, 1e-8]),
                   _runs("plain", "adam", ["full batch"] * 2, [1e-7, 1e-7])],
                  ignore_index=True)


def test_summary_table_has_the_oracle_of_each_configuration():
    assert COLUMNS[:3] == ["problem", "optimizer", "oracle"]
    table = summary_table(MIXED, n_boot=10)
    assert list(table.columns) == COLUMNS
    got = dict(zip(zip(table["problem"], table["optimizer"]), table["oracle"]))
    assert got == {("noisy", "lbfgs"): "full batch", ("noisy", "sgd"): "noisy",
                   ("plain", "sgd"): "full batch", ("plain", "adam"): "full batch"}


def test_a_configuration_whose_runs_differ_joins_their_oracles():
    table = summary_table(_runs("p", "m", ["minibatch", "full batch", "minibatch"],
                                [1e-3, 1e-3, 1e-3]), n_boot=10)
    assert table["oracle"].tolist() == ["full batch/minibatch"]
    assert any(note.startswith("oracle:") for note in summary_notes(table))


def test_format_summary_shows_the_oracle_right_after_the_optimizer():
    text = format_summary(summary_table(MIXED, n_boot=10))
    blocks = [b.splitlines() for b in text.split("\n\n") if "\noptimizer  " in b]
    assert [b[0] for b in blocks] == ["noisy", "plain"]
    for _, header, *_ in blocks:
        assert re.split(r"\s{2,}", header)[:2] == ["optimizer", "oracle"]
    cells = {re.split(r"\s{2,}", row)[0]: re.split(r"\s{2,}", row)[1]
             for row in blocks[0][2:]}
    assert cells == {"lbfgs": "full batch", "sgd": "noisy"}


def test_the_note_appears_only_when_a_problem_mixes_oracles():
    table = summary_table(MIXED, n_boot=10)
    (note,) = [n for n in summary_notes(table) if n.startswith("oracle:")]
    assert "the rows of noisy mix oracles" in note  # the other problem does not
    assert "'full batch' rows" in note and "exact objective" in note
    assert "'noisy' rows the exact gradient plus fresh noise" in note
    assert "minibatch" not in note  # only the oracles the rows have
    assert "not compared as equals" in note
    assert "not compared as equals" in " ".join(format_summary(table).split())
    # one problem's rows (as the report passes them), mixed or not
    noisy, plain = (table[table["problem"] == p] for p in ("noisy", "plain"))
    assert any(n.startswith("oracle: these rows mix oracles") for n in summary_notes(noisy))
    assert not any(n.startswith("oracle:") for n in summary_notes(plain))
    assert "not compared as equals" not in format_summary(plain)
    # two problems that each have one oracle do not mix, even if the oracles differ
    apart = pd.concat([_runs("a", "sgd", ["minibatch"] * 2, [1e-3, 1e-3]),
                       _runs("b", "lbfgs", ["full batch"] * 2, [1e-9, 1e-9])], ignore_index=True)
    assert not any(n.startswith("oracle:") for n in summary_notes(summary_table(apart, n_boot=10)))


def test_a_table_without_oracles_still_summarizes():
    table = summary_table(MIXED.drop(columns="oracle"), n_boot=10)
    assert set(table["oracle"]) == {"unknown"}
    assert not any(n.startswith("oracle:") for n in summary_notes(table))
    assert "unknown" in format_summary(table)


def test_the_summary_of_a_real_study_marks_the_solver(tmp_path):
    specs = [_spec("quadratic", NOISY, "lbfgs", seed=s, steps=30) for s in (0, 1)]
    specs += [_spec("quadratic", NOISY, "sgd", {"lr": 0.05}, seed=s, steps=30) for s in (0, 1)]
    run_study(specs, tmp_path)
    table = summary_table(optbench.load(tmp_path), n_boot=10)
    assert dict(zip(table["optimizer"], table["oracle"])) == {"lbfgs": "full batch",
                                                             "sgd[lr=0.05]": "noisy"}
    text = format_summary(table)
    assert re.search(r"^lbfgs\s+full batch\s", text, re.MULTILINE)
    assert re.search(r"^sgd\[lr=0\.05\]\s+noisy\s", text, re.MULTILINE)
    assert "not compared as equals" in " ".join(text.split())
