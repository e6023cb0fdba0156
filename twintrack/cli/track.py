"""`twintrack track SOURCE` and `twintrack demo`: sources -> tracker -> sinks. Windows live here only."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from twintrack.app.api import create_tracker
from twintrack.cli.common import add_device, add_overrides, add_tracker
from twintrack.configs import parse_overrides
from twintrack.data.images import list_images
from twintrack.errors import UserError
from twintrack.geometry import iou
from twintrack.app.multi import MultiTracker
from twintrack.app.sources import VideoSink, draw_box, open_source
from twintrack.app.video import BoxWriter, first_frame_result

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
                        help="write the boxes, first frame included: .txt one x,y,w,h line per frame; .csv / .json "
                             "with frame, score and lost; several objects: MOTChallenge rows frame,id,x,y,w,h,score "
                             "(.json: records with id)")
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


def track_source(source, init_box, tracker, output=None, boxes_path=None, show=False, max_frames=None,
                 reference_boxes=None):
    """Run a tracker over a source, feeding the sinks. Returns (boxes, seconds spent in update()).

    With a MultiTracker, ``init_box`` is a list of boxes (ids 1, 2, ... in that order) and each item of the
    returned list is a frame's ``{id: box}``. Boxes go to ``boxes_path`` as they are tracked (flushed per frame),
    so Ctrl-C, a kill or a late error (a damaged frame) keeps every frame tracked before it.
    """
    if show:
        check_windows("--show", "use --output to write a video instead")
    several = isinstance(tracker, MultiTracker)
    frames = iter(source)
    first = next(frames, None)
    if first is None:
        raise UserError(f"{source.name}: holds no frames")
    # Everything that can refuse the input runs before the progress bar, so an error stays one line.
    if several:
        first_rows = [(tracker.add(first, box), first_frame_result(box)) for box in init_box]
    else:
        tracker.init(first, init_box)
        first_rows = [(1, first_frame_result(init_box))]
    box_file = BoxWriter(boxes_path, several_objects=several) if boxes_path else None
    try:
        sink = VideoSink(output, source.fps, (first.shape[1], first.shape[0])) if output else None
    except UserError:
        if box_file is not None:
            box_file.close()
            box_file.path.unlink()  # nothing tracked yet: leave nothing behind
        raise
    boxes, update_seconds = [], 0.0
    total = source.count if max_frames is None else min(source.count or max_frames, max_frames)
    bar = tqdm(total=total, unit="frame", desc="tracking", dynamic_ncols=True, file=sys.stderr)
    try:
        # islice stops before pulling a frame past --max-frames (a damaged frame there is never read).
        for index, frame in enumerate(itertools.islice(itertools.chain([first], frames), max_frames)):
            if index == 0:
                rows = first_rows
            else:
                start = time.perf_counter()
                rows = sorted(tracker.update(frame).items()) if several else [(1, tracker.update(frame))]
                update_seconds += time.perf_counter() - start
            boxes.append({object_id: result.box for object_id, result in rows} if several else rows[0][1].box)
            if box_file is not None:
                box_file.write(index + 1, rows)
            if sink is not None or show:
                drawn = draw_results(frame, rows, several, first_frame=index == 0)
                if reference_boxes is not None and index < len(reference_boxes):
                    drawn = draw_box(drawn, reference_boxes[index], None, color=(255, 255, 0))
                if sink is not None:
                    sink.write(drawn)
                if show:
                    cv2.imshow("twintrack", cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
                    if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                        break
            bar.update(1)
    except UserError as err:
        raise UserError(f"{err} ({kept_note(len(boxes), output, boxes_path)})") from None
    except KeyboardInterrupt:
        print(f"twintrack: interrupted after {len(boxes)} frames; {kept_note(len(boxes), output, boxes_path)}",
              file=sys.stderr)
        raise
    finally:
        bar.close()
        if sink is not None:
            sink.close()
        if box_file is not None:
            box_file.close()
        if show:
            cv2.destroyAllWindows()
    return boxes, update_seconds


def kept_note(frame_count: int, output=None, boxes_path=None) -> str:
    kept = [str(p) for p in (boxes_path, output) if p]
    return f"the {frame_count} frames tracked before it are in {' and '.join(kept)}" if kept else "nothing was written"


def draw_results(frame: np.ndarray, rows, several: bool, first_frame: bool) -> np.ndarray:
    """One object: its box in green with its score. Several: each id in its own colour, labelled "id score"."""
    if not several:
        return draw_box(frame, rows[0][1].box, None if first_frame else rows[0][1].score)
    for object_id, result in rows:
        label = f"{object_id}" if first_frame else f"{object_id} {result.score:.2f}"
        frame = draw_box(frame, result.box, color=ID_COLOURS[(object_id - 1) % len(ID_COLOURS)], label=label)
    return frame


def check_outputs(inputs: dict, outputs: dict) -> None:
    """Refuse, before anything is opened, an output that is (or links to) an input or another output.

    ``inputs``/``outputs`` map an option name to a path (None = not given). A folder input counts with its images.
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
    given = [(option, Path(path)) for option, path in outputs.items() if path is not None]
    for number, (option, path) in enumerate(given):
        if path.is_dir():
            raise UserError(f"{option} '{path}' is a folder; give a file name")
        for other_option, other in input_files + given[:number]:
            if same_file(path, other):
                raise UserError(f"{option} '{path}' is {other_option} ('{other}'): writing it would destroy it; "
                                "choose another file name")
        parent = path.resolve().parent
        if not parent.is_dir():
            raise UserError(f"{option}: folder '{path.parent}' does not exist")
        if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise UserError(f"{option}: '{path}' is not writable (permissions)")


def same_file(a: Path, b: Path) -> bool:
    """The same file, seen through symlinks, hard links, '..' or a different spelling."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def closing_line(frame_count: int, update_seconds: float, output=None, boxes_path=None) -> str:
    fps = (frame_count - 1) / update_seconds if update_seconds > 0 and frame_count > 1 else 0.0
    parts = [f"twintrack: tracked {frame_count} frames at {fps:.1f} fps"]
    if output:
        parts.append(f"video written to {output}")
    if boxes_path:
        parts.append(f"boxes written to {boxes_path}")
    return "; ".join(parts)


def run_track(args: argparse.Namespace) -> int:
    if args.box is None and not args.select:
        raise UserError("give the initial box with --box x,y,w,h (0-based pixels) or draw it with --select")
    init_boxes = [parse_box(text) for text in args.box] if args.box is not None else None
    source_path = None if args.source.isdigit() else args.source
    check_outputs({"the source": source_path, "--weights": args.weights},
                  {"--output": args.output, "--boxes": args.boxes})
    if args.select:
        check_windows("--select", "pass --box x,y,w,h instead")
    if args.show:
        check_windows("--show", "use --output to write a video instead")
    source = open_source(args.source)
    if init_boxes is not None and len(init_boxes) > 1:
        tracker = MultiTracker(args.tracker, weights=args.weights, device=args.device,
                               **parse_overrides(args.overrides))
        init_box = init_boxes
    else:
        tracker = create_tracker(args.tracker, weights=args.weights, device=args.device,
                                 **parse_overrides(args.overrides))
        init_box = init_boxes[0] if init_boxes is not None else select_box(source.first_frame())
    boxes, seconds = track_source(source, init_box, tracker, args.output, args.boxes, args.show, args.max_frames)
    print(closing_line(len(boxes), seconds, args.output, args.boxes))
    return 0


def demo_clip() -> tuple[str, dict]:
    folder = resources.files("twintrack.app").joinpath("demo")
    meta = json.loads(folder.joinpath("demo_clip.json").read_text())
    return str(folder.joinpath("demo_clip.mp4")), meta


def run_demo(args: argparse.Namespace) -> int:
    clip, meta = demo_clip()
    check_outputs({"the demo clip": clip, "--weights": args.weights}, {"--output": args.output, "--boxes": args.boxes})
    source = open_source(clip)
    tracker = create_tracker(args.tracker, weights=args.weights, device=args.device,
                             **parse_overrides(args.overrides))
    reference = np.array(meta["boxes"])
    boxes, seconds = track_source(source, meta["init_box"], tracker, args.output, args.boxes,
                                  reference_boxes=reference)
    mean_iou = float(iou(np.array(boxes), reference[: len(boxes)]).mean())
    print(f"twintrack: demo clip {clip} ({meta['source']}); mean IoU with its ground truth {mean_iou:.3f}")
    print(closing_line(len(boxes), seconds, args.output, args.boxes))
    return 0
