"""optbench: benchmark optimizers on standard problems, reproducibly.

>>> import optbench, problems, optimizers
>>> result = optbench.run(problems.get("quadratic", dim=2), optimizers.get("sgd", lr=0.01), steps=10)
>>> result.status, len(result.trace)
('max_steps', 11)
"""

__version__ = "0.1.0"

from .runner import RunResult, run  # noqa: E402
from .spec import RunSpec  # noqa: E402
from .store import load  # noqa: E402

__all__ = ["RunResult", "RunSpec", "__version__", "load", "run"]
