"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import problems

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)


def test_adding_a_problem_example_runs():
    (block,) = _python_blocks("Adding a problem or an optimizer")
    namespace: dict = {}
    try:
        exec(compile(block, "README.md", "exec"), namespace)
        assert "sphere" in problems.names()
        prob = problems.get("sphere", dim=3)
        assert prob.loss(prob.x0(1)) > 0
    finally:
        problems.registry._FACTORIES.pop("sphere", None)


def test_python_api_example_runs(tmp_path, monkeypatch):
    (block,) = _python_blocks("Python API")
    from optbench.cli import main

    monkeypatch.chdir(tmp_path)
    small = tmp_path / "s.toml"
    small.write_text('steps = 5\n[[problems]]\nname = "rosenbrock"\n'
                     '[[optimizers]]\nname = "sgd"\nlr = 0.001\n')
    assert main(["run", str(small), "--out", "results/quick", "--quiet", "--no-report"]) == 0
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["result"].status in ("converged", "max_steps")
    assert len(namespace["data"]) == 6
