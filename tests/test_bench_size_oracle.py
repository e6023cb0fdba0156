"""bench/size_oracle.py: the oracle boxes keep the tracker's centre and take one part of the size from the truth."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import size_oracle  # noqa: E402


def test_oracle_sizes_take_the_true_area_aspect_or_size_and_keep_the_rest():
    boxes = np.array([[0.0, 0.0, 10.0, 20.0]])  # 200 px^2, aspect 0.5, centre (5, 10)
    truth = np.array([[30.0, 30.0, 40.0, 10.0]])  # 400 px^2, aspect 4
    sizes = size_oracle.oracle_sizes(boxes, truth)
    np.testing.assert_allclose(sizes["true area"], [[10 * 2 ** 0.5, 20 * 2 ** 0.5]])  # aspect 0.5, area 400
    np.testing.assert_allclose(sizes["true aspect"], [[np.sqrt(800), np.sqrt(800) / 4]])  # area 200, aspect 4
    np.testing.assert_allclose(sizes["true size"], [[40.0, 10.0]])
    resized = size_oracle.with_size(boxes, sizes["true size"])
    np.testing.assert_allclose(resized, [[5 - 20, 10 - 5, 40, 10]])  # about the tracker's centre, not the truth's
