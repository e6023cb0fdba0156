"""The README's first tracking command gives the bag video's first box 0-based, as every --box is read."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA

pytestmark = pytest.mark.faults

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readmes_first_box_is_the_ground_truth_made_0_based():
    truth_file = SHARED_DATA / "video" / "bag.groundtruth_rect.txt"
    if not truth_file.is_file():
        pytest.skip(f"{truth_file} is not here")
    command = next(line for line in README.read_text().splitlines() if "bag.avi" in line and "--box" in line)
    box = np.array([float(v) for v in re.search(r"--box[ =](\S+)", command).group(1).split(",")])
    one_based = np.array([float(v) for v in truth_file.read_text().splitlines()[0].split(",")])
    np.testing.assert_allclose(box, one_based - [1, 1, 0, 0], atol=0.005)
