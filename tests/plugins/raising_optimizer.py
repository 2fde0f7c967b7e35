"""A plugin for the scoring tests: registers ``raising_sgd``, SGD that raises after
``after`` steps (a user's optimizer with a bug)."""

import numpy as np

import optimizers
from optimizers.first_order import SGD


class RaisingSGD(SGD):
    name = "raising_sgd"

    def __init__(self, lr: float = 0.01, after: int = 0) -> None:
        super().__init__(lr)
        self.after = after
        self.hyperparams = {**self.hyperparams, "after": after}

    def step(self, x: np.ndarray, oracle, state):
        if state.t >= self.after:
            raise RuntimeError(f"raising_sgd: a bug at step {state.t}")
        return super().step(x, oracle, state)


optimizers.register("raising_sgd", RaisingSGD)
