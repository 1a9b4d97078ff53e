"""The README's commands are the ones CI and newcomers run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_readme_opens_with_two_commands():
    commands = _readme_commands()
    assert len(commands) >= 2
    main_job, test_command = commands[:2]
    assert "examples/train_sst2.py" in main_job
    assert test_command.rstrip().endswith("-m pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = _readme_commands()[1].strip()
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in [line.strip() for line in ci_lines]


def test_torch_is_installed_before_the_project():
    for command in _readme_commands()[:2]:
        torch_at = command.index("torch==")
        project_at = command.index("pip install -e")
        assert torch_at < project_at
