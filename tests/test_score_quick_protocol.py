"""The quick protocol of optbench-score v1 itself (not a small copy of it): its verdicts
do not move when the seeds change (seed 0 against the shipped baselines, seed 1 with
the baselines re-run), as the claims' tests check theirs."""

import pytest

from optbench.score import BASELINES, score


@pytest.fixture(scope="module", params=[0, 1], ids=["seed0-shipped", "seed1-rerun"])
def crippled(request, tmp_path_factory):
    seed = request.param
    out = tmp_path_factory.mktemp(f"quick{seed}")
    result = score("adam", fixed={"lr": 1e-9}, level="quick", seed=seed, out=out, rerun_baselines=seed != 0)
    return seed, out, result


def test_a_crippled_adam_scores_zero_and_is_worse_at_every_seed(crippled):
    seed, _, result = crippled
    mine = result.scores[(result.scores["axis"] == "cost") & result.scores["submission"]].iloc[0]
    assert mine["score"] == 0.0 and mine["high"] == 0.0
    assert result.verdict["cost"]["verdict"] == "worse", result.verdict["cost"]["sentence"]
    assert result.meta["seed"] == seed and result.meta["level"] == "quick"


def test_a_copy_of_the_best_baseline_is_indistinguishable_at_every_seed(crippled):
    seed, out, result = crippled
    best = next(b for b in BASELINES if b.name == result.verdict["cost"]["baseline"])
    fixed = {k: v for k, v in best.fixed.items() if k not in best.space}
    copy = score(best.optimizer, fixed=fixed, space=dict(best.space), level="quick", seed=seed, out=out,
                 rerun_baselines=seed != 0)
    assert copy.verdict["cost"]["verdict"] == "indistinguishable"
    assert copy.verdict["cost"]["baseline"] == best.name and copy.verdict["cost"]["difference"] == 0.0
