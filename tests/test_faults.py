"""The fault-injection suite (issue 14): kills, disk full, corrupted files, bad arguments. `pytest -m faults`."""

from __future__ import annotations

import pytest

from faults.harness import assert_one_error_line, run_cli  # noqa: F401  (re-exported for the row tests)

pytestmark = pytest.mark.faults
