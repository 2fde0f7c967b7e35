"""Ensembles of nets: independent, snapshot, Polyak; stored like other results."""

from __future__ import annotations

import pandas as pd
import pytest

import optbench
from optbench.cli import main
from optbench.ensembles import compare_ensembles

DIGITS = {"dataset": "digits", "hidden": [32], "batch_size": 64}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("ens")
    table = compare_ensembles(DIGITS, "adam", {"lr": 1e-3}, steps=600, seeds=[0, 1, 2, 3, 4],
                              cycles=3, results_dir=out)
    return table, out


def test_ensemble_of_five_is_at_least_as_accurate_as_the_median_single(comparison):
    table, _ = comparison
    by = table.set_index("model")
    singles = table[table["kind"] == "single"]
    assert len(singles) == 5
    assert by.loc["independent ensemble", "val_acc"] >= singles["val_acc"].median()
    # averaging probabilities never loses log-loss against the average member (convexity)
    assert by.loc["independent ensemble", "val_loss"] <= singles["val_loss"].mean() + 1e-12
    assert by.loc["best single", "val_acc"] == singles["val_acc"].max()
    assert by.loc["median single", "val_acc"] == singles["val_acc"].median()


def test_snapshot_and_polyak_rows(comparison):
    table, _ = comparison
    snaps = table[table["kind"] == "snapshot"]
    assert snaps["model"].tolist() == ["snapshot step=200", "snapshot step=400", "snapshot step=600"]
    assert table.set_index("model").loc["snapshot ensemble", "members"] == 3
    polyak = table[table["kind"] == "average"]
    assert len(polyak) == 1 and 0.5 < polyak["val_acc"].iloc[0] <= 1.0


def test_member_runs_and_table_are_stored(comparison):
    table, out = comparison
    data = optbench.load(out)
    # 5 independent members, one warm-restart run, one averaged run
    assert data["run_id"].nunique() == 7
    assert {"train_acc", "val_acc", "val_loss", "update_ratio"} <= set(data.columns)
    assert (data["optimizer.average"].dropna() == 0.995).all()
    (path,) = (out / "ensembles").glob("*.parquet")
    stored = pd.read_parquet(path)
    pd.testing.assert_frame_equal(stored.drop(columns="config"), table)


def test_bad_ensemble_settings():
    with pytest.raises(ValueError, match="multiple of cycles"):
        compare_ensembles(DIGITS, steps=100, cycles=3)
    with pytest.raises(ValueError, match="seeds"):
        compare_ensembles(DIGITS, steps=100, seeds=[1, 1], cycles=2)


def test_ensemble_command(tmp_path, capsys):
    argv = ["ensemble", "--dataset", "spiral", "--hidden", "8", "--batch-size", "16",
            "-p", "n_samples=90", "--steps", "40", "--members", "2", "--cycles", "2",
            "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "independent ensemble" in out and "snapshot ensemble" in out and "polyak" in out
    assert main(["ensemble", "-p", "hiden=3", "--out", str(tmp_path)]) == 2
    assert "did you mean 'hidden'" in capsys.readouterr().err


def test_polyak_average_starts_after_half_the_steps_by_default(comparison):
    table, out = comparison
    polyak = table[table["kind"] == "average"]
    assert polyak["model"].tolist() == ["polyak average decay=0.995 from step 300"]
    data = optbench.load(out)
    assert set(data["optimizer.average_start"].dropna()) == {300}


def test_average_start_zero_and_a_bad_one(tmp_path, capsys):
    spiral = {"dataset": "spiral", "n_samples": 90, "hidden": [8], "batch_size": 16}
    table = compare_ensembles(spiral, steps=40, seeds=[0, 1], cycles=2, average_start=0)
    assert table["model"].iloc[-1] == "polyak average decay=0.995 from step 0"
    with pytest.raises(ValueError, match="average_start must be an integer from 0 to steps - 1 = 39"):
        compare_ensembles(spiral, steps=40, seeds=[0, 1], cycles=2, average_start=40)
    out = tmp_path / "never"
    argv = ["ensemble", "--steps", "40", "--cycles", "2", "--average-start", "40", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == "optbench: error: --average-start must be less than --steps (40), got 40"
    assert not out.exists()
