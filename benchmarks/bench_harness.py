"""The harness: one short run, and the memory of a small study."""

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
