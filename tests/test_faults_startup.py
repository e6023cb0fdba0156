"""The fault suite, start-up: `twintrack --version` and `--help` answer without importing torch (each command's
module is imported only when that command runs), and the command list stays the one the modules define."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from faults.harness import ROOT, cli_env

pytestmark = [pytest.mark.faults]


def parse_in_fresh_python(argv: list[str]) -> subprocess.CompletedProcess:
    code = textwrap.dedent(f"""
        import sys, twintrack.cli.main
        try:
            sys.modules["twintrack.cli.main"].main({argv!r})
        except SystemExit as exit_:
            assert exit_.code in (0, None), exit_.code
        heavy = [name for name in ("torch", "cv2", "numpy", "got10k") if name in sys.modules]
        assert not heavy, heavy
        print("light")
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), cwd=ROOT,
                          timeout=120)


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["-h"]])
def test_version_and_help_do_not_import_torch(argv):
    done = parse_in_fresh_python(argv)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("light")
    if argv == ["--version"]:
        assert done.stdout.startswith("twintrack ")
    else:
        for command in ("track", "demo", "train", "precrop", "lr-find", "eval", "export"):
            assert command in done.stdout, command


def test_the_lazy_command_list_matches_the_modules():
    """`--help` lists each command from a table in main.py; the table must say what each module's parser says."""
    from twintrack.cli.main import COMMANDS, build_parser

    full = build_parser()
    actions = next(a for a in full._actions if a.__class__.__name__ == "_SubParsersAction")
    helps = {choice.dest: choice.help for choice in actions._choices_actions}
    assert list(helps) == list(COMMANDS)
    assert {name: help_text for name, (_, help_text) in COMMANDS.items()} == helps


def test_a_command_still_parses_and_runs_its_own_module(capsys):
    from faults.harness import run_main

    result = run_main(capsys, "lr-find", "siamfc", "--data", "nowhere", "--out", "x", "--steps", "1")
    assert result.returncode == 2 and "--steps >= 2" in result.stderr
