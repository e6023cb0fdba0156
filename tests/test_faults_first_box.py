"""The first box is checked against the frame in one place (tracker/base.py check_init_box) for every tracker: a
box absurdly larger than the frame (`--box 0,0,1e308,1e308`) is one UserError line, from the CLI and from the API,
instead of a traceback deep in MDNet or a SiamFC run that writes 1e30 into the boxes file."""

from __future__ import annotations

import numpy as np
import pytest

from faults.harness import assert_one_error_line, run_main
from twintrack.errors import UserError
from twintrack.tracker.base import check_init_box

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

FRAME = np.zeros((96, 128, 3), np.uint8)  # 128 wide, 96 high
HUGE_BOXES = [(0, 0, 1e308, 1e308), (0, 0, 1e30, 20), (10, 10, 20, 1e6), (0, 0, 128 * 11, 96)]


@pytest.mark.parametrize("box", HUGE_BOXES, ids=str)
def test_check_init_box_refuses_a_box_far_larger_than_the_frame(box):
    with pytest.raises(UserError) as caught:
        check_init_box(box, FRAME)
    message = str(caught.value)
    assert "\n" not in message and "128x96" in message and "larger than" in message


@pytest.mark.parametrize("box", [(-10, -10, 148, 116), (0, 0, 128 * 5, 96 * 5), (100, 80, 60, 40), (-5, 20, 30, 24)],
                         ids=str)
def test_check_init_box_accepts_boxes_a_little_past_the_frame(box):
    np.testing.assert_array_equal(check_init_box(box, FRAME), box)


@pytest.fixture(scope="module")
def trackers(random_weights):
    import twintrack

    return {"siamfc": twintrack.create_tracker("siamfc", weights=random_weights, device="cpu"),
            "mdnet": twintrack.create_tracker("mdnet", device="cpu", seed=0),
            "twin": twintrack.create_tracker("twin", device="cpu", seed=0)}


@pytest.mark.parametrize("name", ["siamfc", "mdnet", "twin"])
def test_every_tracker_refuses_a_huge_first_box_with_a_user_error(trackers, name):
    with pytest.raises(UserError, match="larger than"):
        trackers[name].init(FRAME, (0, 0, 1e308, 1e308))


@pytest.mark.parametrize("tracker", ["siamfc", "mdnet"])
def test_a_huge_box_on_the_command_line_is_one_line_and_writes_nothing(capsys, tmp_path, synthetic_video,
                                                                       random_weights, tracker):
    weights = ["--weights", random_weights] if tracker == "siamfc" else []
    boxes = tmp_path / "boxes.txt"
    result = run_main(capsys, "track", synthetic_video, "--box", "0,0,1e308,1e308", "--tracker", tracker, *weights,
                      "--device", "cpu", "--boxes", boxes)
    assert_one_error_line(result, "larger than", "96x96")
    assert not boxes.exists()
