"""`twintrack track SOURCE` and `twintrack demo`: the tracking loop of app/video.py (TrackingRun), with the annotated
video, the live window and the messages of a command added here. Windows live here only.

Stop signals: SIGTERM (kill, timeout, docker stop) and SIGHUP (a closed terminal) stop a run as Ctrl-C does: every
output is closed whole, one line says what was kept, and the exit status is 128 + the signal's number.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from twintrack.app.api import create_tracker
from twintrack.app.multi import MultiTracker
from twintrack.app.sources import VideoSink, draw_box, link_problem, open_source, video_output_problem
from twintrack.app.video import (STANDARD_OUTPUT, Stopped, TrackedVideo, TrackingHooks, TrackingRun, box_file_kind,
                                 frames_phrase, output_name)
from twintrack.cli.common import add_device, add_overrides, add_tracker, engine_line
from twintrack.configs import parse_overrides
from twintrack.data.images import list_images
from twintrack.errors import UserError
from twintrack.geometry import iou

# One colour per object id (RGB; Tableau 10): objects stay apart in the annotated video.
ID_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
              (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def add_parsers(subparsers) -> None:
    track = subparsers.add_parser("track", help="track objects in a video, image folder, webcam or stream",
                                  description="Track one object, or several (--box more than once). Boxes are 0-based "
                                              "x,y,w,h pixels.")
    track.add_argument("source", help="video file, image folder, webcam index (e.g. 0) or stream URL "
                                      "(rtsp://, http://, ...)")
    where = track.add_mutually_exclusive_group()
    where.add_argument("--box", action="append", metavar="X,Y,W,H",
                       help="initial box in the first frame (0-based pixels); give it once per object to track "
                            "several (ids 1, 2, ... in that order)")
    where.add_argument("--select", action="store_true", help="draw the initial box with the mouse (needs a display)")
    add_common(track)
    track.add_argument("--show", action="store_true", help="show a live window (needs a display)")
    track.add_argument("--max-frames", type=positive_int, help="stop after this many frames")
    track.set_defaults(func=run_track)

    demo = subparsers.add_parser("demo", help="track the embedded demo clip with the shipped weights")
    add_common(demo, default_output="twintrack_demo.mp4")
    demo.set_defaults(func=run_demo)


def add_common(parser, default_output=None) -> None:
    parser.add_argument("--output", default=default_output, metavar="VIDEO",
                        help="write an annotated video (.mp4/.avi); runs headless")
    parser.add_argument("--boxes", metavar="FILE",
                        help="write the boxes, first frame included (- for standard output): .txt one x,y,w,h line "
                             "per frame; .csv / .json with frame, score and lost; several objects: MOTChallenge rows "
                             "frame,id,x,y,w,h,score (.csv with a header; .json: records with id)")
    add_tracker(parser)
    parser.add_argument("--weights", metavar="FILE", help="weights .safetensors (default: shipped weights)")
    add_device(parser)
    add_overrides(parser, "tracker config overrides")


def positive_int(text: str) -> int:
    """argparse type for counts: a whole number >= 1 (argparse turns the ValueError into one error line)."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def parse_box(text: str) -> np.ndarray:
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise UserError(f'--box needs four numbers x,y,w,h (got "{text}")') from None
    if len(values) != 4 or not all(np.isfinite(values)):
        raise UserError(f'--box needs four numbers x,y,w,h (got "{text}")')
    if values[2] <= 0 or values[3] <= 0:
        raise UserError(f'--box needs a positive width and height (got "{text}")')
    return np.array(values)


def has_display() -> bool:
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def opencv_has_gui() -> bool:
    """Whether the installed OpenCV can open windows (the headless wheels, twintrack's default, cannot)."""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return line.split(":", 1)[1].strip().upper() not in ("NONE", "NO", "")
    return True


def check_windows(option: str, alternative: str) -> None:
    """--show/--select need a GUI build of OpenCV and a display: say which is missing, in one line."""
    if not has_display():
        raise UserError(f"{option} needs a display (none found); {alternative}")
    if not opencv_has_gui():
        raise UserError(f"{option} needs an OpenCV build with a GUI, and the installed one is headless; {alternative}, "
                        "or replace it: pip uninstall opencv-contrib-python-headless && pip install opencv-contrib-python")


def select_box(frame_rgb: np.ndarray) -> np.ndarray:
    check_windows("--select", "pass --box x,y,w,h instead")
    x, y, w, h = cv2.selectROI("twintrack: draw the target, then ENTER", cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
    cv2.destroyAllWindows()
    if w <= 0 or h <= 0:
        raise UserError("--select: no box was drawn")
    return np.array([x, y, w, h], dtype=np.float64)


# ------------------------------------------------------------------------------------- video, window, messages


class Annotated(TrackingHooks):
    """The command's additions to the tracking loop: the annotated video (--output), the live window (--show), the
    demo's ground truth drawn in cyan, and the one line naming the backbone engine once tracking starts."""

    def __init__(self, tracker, output=None, fps: float = 25.0, show: bool = False, reference_boxes=None,
                 weights=None) -> None:
        self.tracker, self.output, self.fps, self.show = tracker, output, fps, show
        self.reference_boxes, self.weights = reference_boxes, weights
        self.several = isinstance(tracker, MultiTracker)
        self.outputs = (output,) if output else ()
        self.sink = None

    def start(self, first_frame: np.ndarray) -> None:
        if self.output:
            self.sink = VideoSink(self.output, self.fps, (first_frame.shape[1], first_frame.shape[0]))
        line = engine_line(self.tracker, self.weights)
        if line:
            print(line, file=sys.stderr)

    def frame(self, index: int, frame: np.ndarray, rows) -> bool:
        if self.sink is None and not self.show:
            return True
        drawn = draw_results(frame, rows, self.several, first_frame=index == 0)
        if self.reference_boxes is not None and index < len(self.reference_boxes):
            drawn = draw_box(drawn, self.reference_boxes[index], None, color=(255, 255, 0))
        if self.sink is not None:
            self.sink.write(drawn)
        if self.show:
            cv2.imshow("twintrack", cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
            if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                return False
        return True

    def close(self) -> None:
        try:
            if self.sink is not None:
                self.sink.close()
        finally:
            if self.show:
                cv2.destroyAllWindows()


def draw_results(frame: np.ndarray, rows, several: bool, first_frame: bool) -> np.ndarray:
    """One object: its box in green with its score. Several: each id in its own colour, labelled "id score"."""
    if not several:
        return draw_box(frame, rows[0][1].box, None if first_frame else rows[0][1].score)
    for object_id, result in rows:
        label = f"{object_id}" if first_frame else f"{object_id} {result.score:.2f}"
        frame = draw_box(frame, result.box, color=ID_COLOURS[(object_id - 1) % len(ID_COLOURS)], label=label)
    return frame


def closing_line(tracked: TrackedVideo, output=None, boxes_path=None) -> str:
    frame_count = len(tracked.boxes)
    if frame_count > 1:
        parts = [f"twintrack: tracked {frame_count} frames at {tracked.tracking_fps:.1f} fps"]
    else:
        parts = ["twintrack: tracked 1 frame (the first, whose box was given: no tracking speed to report)"]
    if output:
        parts.append(f"video written to {output}")
    if boxes_path:
        parts.append(f"boxes written to {output_name(boxes_path)}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------------ stop signals


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def stop_signals_as_ctrl_c(run: TrackingRun):
    """SIGINT, SIGTERM and SIGHUP stop ``run`` cleanly (``run.request_stop``); the previous handlers come back after.
    A signal the parent set to be ignored (``nohup``, a background job's SIGINT) stays ignored."""
    def handler(signum, _frame):
        run.request_stop(signum)

    previous = {}
    try:
        for stop in STOP_SIGNALS:
            if signal.getsignal(stop) is not signal.SIG_IGN:
                previous[stop] = signal.signal(stop, handler)
    except ValueError:  # not the main thread (the CLI called from a thread): no handlers, Ctrl-C as Python has it
        pass
    try:
        yield
    finally:
        for stop, before in previous.items():
            signal.signal(stop, before)


def stopped_line(signum: int, run: TrackingRun) -> str:
    what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    if not run.rows:
        return f"twintrack: {what} before the first frame was tracked; nothing was written"
    return f"twintrack: {what} after {frames_phrase(len(run.rows))}; {run.kept_note()}"


def track_command(source, init_box, tracker, output=None, boxes_path=None, show=False, max_frames=None,
                  reference_boxes=None, weights=None) -> tuple[TrackedVideo | None, int]:
    """Run the loop for a command: ``(tracked video, 0)``, or ``(None, 128 + signal)`` after a stop signal or Ctrl-C
    (its line printed)."""
    hooks = Annotated(tracker, output, source.fps, show, reference_boxes, weights)
    run = TrackingRun(tracker, boxes_file=boxes_path, hooks=hooks)
    try:
        with stop_signals_as_ctrl_c(run):
            return run.run(source, init_box, max_frames), 0
    except KeyboardInterrupt as stop:
        signum = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
        print(stopped_line(signum, run), file=sys.stderr)
        return None, 128 + signum


# ------------------------------------------------------------------------------------------------ outputs


def check_outputs(inputs: dict, outputs: dict) -> None:
    """Refuse, before anything is opened, an output that is (or links to) an input or another output, a symbolic
    link loop, a video output that is not a regular file (a FIFO), or a box file of an unknown format.

    ``inputs``/``outputs`` map an option name to a path (None = not given; ``-`` for --boxes is standard output).
    A folder input counts with its images.
    """
    input_files = []
    for option, path in inputs.items():
        if path is None:
            continue
        path = Path(path)
        input_files.append((option, path))
        for folder in (path, path / "img"):  # an image folder or an OTB-style sequence folder
            if folder.is_dir():
                input_files += [(f"an image of {option}", image) for image in list_images(folder)]
    given = [(option, Path(path)) for option, path in outputs.items()
             if path is not None and str(path) != STANDARD_OUTPUT]
    for number, (option, path) in enumerate(given):
        problem = link_problem(path)
        if problem:
            raise UserError(f"{option} '{path}' is {problem}; remove the link or choose another name")
        if path.is_dir():
            raise UserError(f"{option} '{path}' is a folder; give a file name")
        if option == "--output":
            problem = video_output_problem(path)
            if problem:
                raise UserError(f"{option}: {problem}")
        for other_option, other in input_files + given[:number]:
            if same_file(path, other):
                raise UserError(f"{option} '{path}' is {other_option} ('{other}'): writing it would destroy it; "
                                "choose another file name")
        check_writable(option, path)


def check_writable(option: str, path: Path) -> None:
    if path.exists():  # an existing file (or a device such as /dev/stdout): its own permission counts
        if not os.access(path, os.W_OK):
            raise UserError(f"{option}: '{path}' is not writable (permissions)")
        return
    parent = Path(os.path.realpath(path)).parent
    if not parent.is_dir():
        raise UserError(f"{option}: folder '{path.parent}' does not exist")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{option}: '{path}' is not writable (permissions)")


def same_file(a: Path, b: Path) -> bool:
    """The same file, seen through symlinks, hard links, '..' or a different spelling (never raises: a link loop
    is simply not the same file as anything)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def check_box_format(boxes_path, several_objects: bool) -> None:
    if boxes_path is not None:
        try:
            box_file_kind(boxes_path, several_objects)
        except UserError as err:
            raise UserError(f"--boxes: {err}") from None


# ------------------------------------------------------------------------------------------------ commands


def run_track(args: argparse.Namespace) -> int:
    if args.box is None and not args.select:
        raise UserError("give the initial box with --box x,y,w,h (0-based pixels) or draw it with --select")
    init_boxes = [parse_box(text) for text in args.box] if args.box is not None else None
    several = init_boxes is not None and len(init_boxes) > 1
    source_path = None if args.source.isdigit() else args.source
    check_outputs({"the source": source_path, "--weights": args.weights},
                  {"--output": args.output, "--boxes": args.boxes})
    check_box_format(args.boxes, several)
    if args.select:
        check_windows("--select", "pass --box x,y,w,h instead")
    if args.show:
        check_windows("--show", "use --output to write a video instead")
    source = open_source(args.source)
    if several:
        tracker = MultiTracker(args.tracker, weights=args.weights, device=args.device,
                               **parse_overrides(args.overrides))
        init_box = init_boxes
    else:
        tracker = create_tracker(args.tracker, weights=args.weights, device=args.device,
                                 **parse_overrides(args.overrides))
        init_box = init_boxes[0] if init_boxes is not None else select_box(source.first_frame())
    tracked, status = track_command(source, init_box, tracker, args.output, args.boxes, args.show, args.max_frames,
                                    weights=args.weights)
    if tracked is not None:
        print(closing_line(tracked, args.output, args.boxes), file=sys.stderr)
    return status


def demo_clip() -> tuple[str, dict]:
    folder = resources.files("twintrack.app").joinpath("demo")
    meta = json.loads(folder.joinpath("demo_clip.json").read_text())
    return str(folder.joinpath("demo_clip.mp4")), meta


def run_demo(args: argparse.Namespace) -> int:
    clip, meta = demo_clip()
    check_outputs({"the demo clip": clip, "--weights": args.weights}, {"--output": args.output, "--boxes": args.boxes})
    check_box_format(args.boxes, several_objects=False)
    source = open_source(clip)
    tracker = create_tracker(args.tracker, weights=args.weights, device=args.device,
                             **parse_overrides(args.overrides))
    reference = np.array(meta["boxes"])
    tracked, status = track_command(source, meta["init_box"], tracker, args.output, args.boxes,
                                    reference_boxes=reference, weights=args.weights)
    if tracked is None:
        return status
    mean_iou = float(iou(tracked.boxes, reference[: len(tracked.boxes)]).mean())
    # Messages on stderr: standard output may be carrying the boxes (--boxes -).
    print(f"twintrack: demo clip {clip} ({meta['source']}); mean IoU with its ground truth {mean_iou:.3f}",
          file=sys.stderr)
    print(closing_line(tracked, args.output, args.boxes), file=sys.stderr)
    return status
