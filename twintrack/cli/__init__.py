"""The command line: every `twintrack` command, on top of the library (which raises; this layer prints and exits).

``main`` is the console entry point (``twintrack = "twintrack.cli:main"``); see ``main.py`` for adding a command.
"""

from twintrack.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
