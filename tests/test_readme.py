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


def _command_summary() -> dict[str, str]:
    """The README's command-line summary: each command's lines, by command name."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = text.split("## Command line", 1)[1].split("```", 2)[1]
    entries: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        if line.startswith("optbench "):
            name = line.split()[1]
            entries[name] = entries.get(name, "") + line + "\n"
        elif name:
            entries[name] += line + "\n"
    if "the options of run" in entries.get("tune", ""):
        entries["tune"] += entries["run"]
    return entries


def test_the_readme_command_summary_lists_every_flag_of_every_command():
    import argparse

    from optbench.cli import build_parser

    summary = _command_summary()
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, command in sub.choices.items():
        assert name in summary, f"optbench {name} is not in the README's summary"
        for action in command._actions:
            flags = [f for f in action.option_strings if f.startswith("--") and f != "--help"]
            if flags and not any(f in summary[name] for f in flags):
                missing.append(f"optbench {name} {flags[0]}")
    assert not missing, "flags missing from the README's command summary: " + ", ".join(missing)
    assert "--version" in summary
