"""The harness: a short run, its fixed cost, long log-recorded runs, a small study's memory."""

import tempfile

import optbench
import optimizers
import problems
from optbench.spec import RunSpec
from optbench.study import run_study


class ShortRun:
    params = [[1, 10]]
    param_names = ["record_every"]

    def setup(self, record_every):
        self.problem = problems.get("quadratic", dim=100, condition_number=100.0)

    def time_adam_500_steps(self, record_every):
        optbench.run(self.problem, optimizers.get("adam", lr=1e-2), steps=500,
                     record_every=record_every, tol_grad=None)


class FixedCost:
    """What a run costs besides its steps: setup, two recorded rows, the trace frame."""

    def setup(self):
        self.problem = problems.get("quadratic", dim=10, condition_number=100.0)
        optbench.run(self.problem, optimizers.get("adam"), steps=1)  # warm caches

    def time_one_step_run(self):
        optbench.run(self.problem, optimizers.get("adam"), steps=1, tol_grad=None)


class LogRecording:
    """A long run recorded at 20 points per decade: O(log T) rows and evaluations."""

    timeout = 120

    def setup(self):
        self.problem = problems.get("quadratic", dim=10, condition_number=100.0)

    def time_sgd_100k_steps_log(self):
        optbench.run(self.problem, optimizers.get("sgd", lr=1e-3), steps=100_000, record="log",
                     tol_grad=None)

    def peakmem_sgd_100k_steps_log(self):
        optbench.run(self.problem, optimizers.get("sgd", lr=1e-3), steps=100_000, record="log",
                     tol_grad=None)

    def track_rows_of_a_million_step_log_run(self):
        from optbench.runner import record_steps

        return 1 + len(list(record_steps(10**6, 1, "log")))

    track_rows_of_a_million_step_log_run.unit = "rows"


class SmallStudy:
    timeout = 300

    def peakmem_study_of_12_runs(self):
        specs = [
            RunSpec(problem="logistic", problem_params={"n_samples": 2000, "n_features": 20},
                    optimizer=name, optimizer_params={"lr": 1e-2}, seed=seed, steps=200,
                    record_every=10)
            for name in ("sgd", "momentum", "adam")
            for seed in range(4)
        ]
        with tempfile.TemporaryDirectory() as out:
            run_study(specs, out)
            optbench.load(out)
