"""The fault-injection suite (docs/reliability.md): kills, disk full, corrupted files, bad arguments. `pytest -m faults`."""

from __future__ import annotations

import pytest

from faults.harness import assert_one_error_line, run_cli  # noqa: F401  (re-exported for the row tests)

pytestmark = pytest.mark.faults


# ------------------------------------------------------------------- hypothesis: bad arguments, CLI and API

import os  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from faults.harness import files_under  # noqa: E402
from twintrack.errors import UserError  # noqa: E402

SETTINGS = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                             HealthCheck.too_slow])


def _parses_as_box(text: str) -> bool:
    from twintrack.cli.track import parse_box

    try:
        parse_box(text)
    except UserError:
        return False
    return True


BAD_TRACK_ARGS = st.one_of(
    st.text(max_size=30).filter(lambda t: not t.startswith("-")).map(lambda t: ("--box", t)),
    st.integers(-1000, 0).map(lambda n: ("--max-frames", str(n))),
    st.text(min_size=1, max_size=12).filter(lambda t: t not in ("auto", "cpu") and not t.startswith("-"))
    .map(lambda t: ("--device", t)),
    st.text(min_size=1, max_size=12).filter(lambda t: t not in ("siamfc", "mdnet") and not t.startswith("-"))
    .map(lambda t: ("--tracker", t)),
    st.tuples(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.text(max_size=8))
    .map(lambda kv: ("override", f"{kv[0]}={kv[1]}")),
    st.sampled_from(["window_influence=abc", "scale_num=0.5", "response_up=-3", "exemplar_size=", "precision=fp8"])
    .map(lambda kv: ("override", kv)),
    st.text(min_size=1, max_size=20).filter(lambda t: not t.startswith("-") and "\x00" not in t)
    .map(lambda t: ("--weights", t)),
)


@SETTINGS
@given(bad=BAD_TRACK_ARGS)
def test_bad_track_arguments_are_one_line_and_write_nothing(capsys, synthetic_video, random_weights, bad):
    from faults.harness import run_main

    option, value = bad
    if option == "--box":
        assume(not _parses_as_box(value))
    if option == "override":
        from twintrack.configs import load_config

        try:
            load_config("siamfc", [value])
        except UserError:
            pass
        else:
            assume(False)  # a valid override: not a bad argument
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        args = {"--box": "20,24,24,24", "--weights": str(random_weights), "--device": "cpu"}
        extra = []
        if option == "override":
            extra.append(value)
        else:
            args[option] = value
        argv = ["track", str(synthetic_video), *[f"{k}={v}" for k, v in args.items()],
                "--boxes", str(out / "b.txt"), "--output", str(out / "v.mp4"), *extra]
        result = run_main(capsys, *argv)
        assert_one_error_line(result)
        assert files_under(out) == set()


FRAMES = st.one_of(
    st.none(), st.text(max_size=5), st.integers(), st.floats(),
    st.builds(lambda shape, dtype, fill: np.full(shape, fill).astype(dtype),
              st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple),
              st.sampled_from([np.uint8, np.uint16, np.int64, np.float32, np.float64, bool, np.complex64]),
              st.one_of(st.integers(-300, 70000), st.floats(allow_nan=True, allow_infinity=True))),
)
BOXES = st.one_of(
    st.none(), st.text(max_size=12),
    st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6)), max_size=6),
)


@SETTINGS
@given(frame=FRAMES, box=BOXES)
def test_bad_frames_and_boxes_through_the_api_raise_only_user_error(api_tracker, frame, box):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's cast warnings for the odd fills hypothesis draws
        try:
            api_tracker.init(frame, box)
        except UserError:
            return
        try:
            api_tracker.update(frame)
        except UserError:
            pass


@pytest.fixture(scope="module")
def api_tracker(random_weights):
    import twintrack

    return twintrack.create_tracker("siamfc", weights=random_weights, device="cpu")


# ----------------------------------------------------------------------- kill -9 at random points of eval


@pytest.mark.parametrize("seed", [0])
def test_eval_killed_at_random_points_then_rerun_equals_an_uninterrupted_run(tmp_path, seed):
    pytest.importorskip("got10k")
    from conftest import moving_target_clip, write_sequence_folder

    from faults.harness import kill_when, run_cli

    data = tmp_path / "data"
    names = [f"seq_{i}" for i in range(5)]
    for i, name in enumerate(names):
        frames, boxes = moving_target_clip(12, (96, 96), 24, (20, 30), (3, 2), seed=i)
        write_sequence_folder(data / name, frames, boxes)

    def args(out):
        return ["eval", "--baseline", "kcf", "--dataset", f"folder:{data}", "--out", out]

    assert run_cli(*args(tmp_path / "reference")).returncode == 0
    rng = np.random.default_rng(seed)
    out, kills = tmp_path / "killed", 0
    for _ in range(3):
        target = int(rng.integers(0, 4))  # kill once this many sequences have their provenance record
        records = out / "results" / "kcf" / ".provenance"
        result = kill_when(args(out), lambda: len(list(records.glob("*.json"))) >= target
                           if records.exists() else target == 0 and out.exists())
        if result.returncode == 0:
            break
        assert result.returncode == -9, result.stderr
        kills += 1
    assert kills >= 1
    assert run_cli(*args(out)).returncode == 0
    for name in names:  # every sequence's boxes as the uninterrupted run wrote them: none lost, none half-written
        assert (out / "results" / "kcf" / f"{name}.txt").read_text() == \
            (tmp_path / "reference" / "results" / "kcf" / f"{name}.txt").read_text()
    assert not list(out.rglob("*.tmp"))


BAD_TRAIN_ARGS = st.one_of(
    st.integers(-1000, 0).map(lambda n: ("--max-steps", str(n))),
    st.text(min_size=1, max_size=12).filter(lambda t: not t.startswith("-") and not t.strip().isdigit())
    .map(lambda t: ("--max-steps", t)),
    st.text(min_size=1, max_size=12).filter(lambda t: t not in ("auto", "cpu") and not t.startswith("-"))
    .map(lambda t: ("--device", t)),
    st.tuples(st.from_regex(r"[a-z_]{1,14}", fullmatch=True), st.text(max_size=8))
    .map(lambda kv: ("override", f"{kv[0]}={kv[1]}")),
    st.sampled_from(["lr=abc", "batch_size=2.5", "optimizer=rmsprop", "lr_schedule=zigzag", "epochs=",
                     "init=zeros"]).map(lambda kv: ("override", kv)),
    st.text(min_size=1, max_size=20).filter(lambda t: not t.startswith("-") and "\x00" not in t and "=" not in t)
    .map(lambda t: ("--data", t)),
)


@pytest.fixture(scope="module")
def small_training_set(tmp_path_factory):
    from conftest import write_training_set

    return write_training_set(tmp_path_factory.mktemp("train") / "data", count=1, frames=4)


@SETTINGS
@given(bad=BAD_TRAIN_ARGS)
def test_bad_train_arguments_are_one_line_and_write_nothing(capsys, small_training_set, bad):
    from faults.harness import run_main

    option, value = bad
    if option == "override":
        from twintrack.configs import load_config

        try:
            load_config("train_siamfc", [value])
        except UserError:
            pass
        else:
            assume(False)  # a valid override: not a bad argument
    data = small_training_set
    if option == "--data":
        assume(not Path(data.parent / value).exists())
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        args = {"--data": str(data), "--device": "cpu"}
        extra = [value] if option == "override" else []
        if option != "override":
            args[option] = str(data.parent / value) if option == "--data" else value
        result = run_main(capsys, "train", "siamfc", "--out", str(run),
                          *[f"{k}={v}" for k, v in args.items()], "epochs=1", "pairs_per_epoch=2", "batch_size=2",
                          *extra)
        assert_one_error_line(result)
        assert files_under(Path(folder)) == set()


# ------------------------------------------------------------------------ disk full (ulimit -f) in track, eval


def test_disk_full_while_tracking_or_evaluating_is_one_line_and_leaves_no_temp_file(tmp_path, synthetic_video,
                                                                                   random_weights):
    from conftest import moving_target_clip, write_sequence_folder

    from faults.harness import file_limit, run_cli

    # 512 bytes: the box file fills up after about 20 lines (the clip has 12 frames: use --output too)
    result = run_cli("track", synthetic_video, "--box", "20,24,24,24", "--weights", random_weights, "--device", "cpu",
                     "--output", tmp_path / "v.avi", preexec=file_limit(1))
    assert_one_error_line(result, "v.avi", "disk full")
    pytest.importorskip("got10k")
    for i in range(2):
        frames, boxes = moving_target_clip(8, (96, 96), 24, (20, 30), (3, 2), seed=i)
        write_sequence_folder(tmp_path / "data" / f"s{i}", frames, boxes)
    args = ["eval", "--baseline", "kcf", "--dataset", f"folder:{tmp_path / 'data'}", "--out", tmp_path / "ev"]
    assert_one_error_line(run_cli(*args, preexec=file_limit(1)), "File too large", "run the command again")
    assert not list((tmp_path / "ev").rglob("*.tmp"))
    assert run_cli(*args).returncode == 0  # and with space again, the same command finishes the work
