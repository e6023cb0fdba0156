"""Tracking speed on CPU beside OpenCV CSRT, measured in the same run on the same frames.

    .venv/bin/python bench/speed.py [--sequence ../shared/data/sot/val/bag] [--frames 120] [--threads 2] [--mdnet]
    .venv/bin/python bench/speed.py --sequence ../shared/data/sot/val --frames 0      # every frame of every sequence
    .venv/bin/python bench/speed.py --profile [siamfc|mdnet] [--profile-frames 60] [--set key=value ...]
    python bench/speed.py --device cuda --sequence demo --mdnet     # twintrack on a GPU (bench/gpu_check.sh)

Times update() only (frames decoded beforehand), after a few warm-up frames, and prints fps and the ratio to
CSRT for SiamFC's inference settings, OpenCV's NanoTrack v2 (when its ONNX files are found: ``--nano-model``,
default ../shared/models/nanotrack), with ``--mdnet`` MDNet's two feature paths and with ``--twin`` the twin.
``--sequence`` is one sequence folder or a folder of them; with several, each sequence runs every tracker in turn
(CSRT first and last) and fps is total frames over total time. These machines are noisy: read the ratios, not the
bare times.

``--profile`` instead tracks with SiamFC and/or MDNet (both when none is named), reading each frame from disk, and
prints where the time goes: ms per stage for init() and per update() (mean over the frames after warm-up), from a
StageTimer attached to the tracker. ``--set`` overrides apply to the profiled tracker(s) (and to MDNet's rows).

``--device`` (default cpu) runs SiamFC and MDNet there (OpenCV's trackers stay on the CPU); on CUDA every update()
ends in a device-to-host copy of its scores, so the times include the GPU's work. ``--sequence demo`` (or a video
file with a ``.json`` beside it holding ``init_box``) times the clip shipped for ``twintrack demo``, decoded into
memory first: what a machine without ../shared has.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2

import numpy as np
import torch

from twintrack import create_tracker
from twintrack.configs import parse_overrides
from twintrack.data.images import read_image
from twintrack.errors import UserError
from twintrack.eval.baselines import OpenCVTracker, nanotrack_paths
from twintrack.eval.sequences import load_folder_sequences
from twintrack.tracker.timing import StageTimer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT_SEQUENCE = SHARED / "data" / "sot" / "val" / "bag"
DEFAULT_NANO = SHARED / "models" / "nanotrack"

PAPER = {"scale_mode": "search3", "scale_num": 3, "scale_step": 1.0375}  # SiamFC-3s as published (before)
VARIANTS = {
    "siamfc search3 fp32 (the paper: 3 crops, 3 backbone passes)": {**PAPER, "precision": "fp32"},
    "siamfc pyramid fp32 (1 search crop, 1 backbone pass)": {"scale_mode": "pyramid", "precision": "fp32"},
    "siamfc search3, precision auto": PAPER,
    "siamfc search3, scale every 2nd frame, precision auto": {**PAPER, "scale_interval": 2},
    "siamfc [default: preset scale_mode, precision auto]": {},
}


@dataclass(frozen=True)
class MemorySequence:
    """A video decoded into memory: ``frames`` holds RGB arrays, not paths; ground truth is the first box only."""

    name: str
    frames: tuple
    ground_truth: np.ndarray


def load_sequences(spec: str) -> list:
    """``demo`` (the clip shipped for ``twintrack demo``), a video file with ``<stem>.json`` holding ``init_box``,
    or a sequence folder / folder of them (EvalSequence, frames as paths)."""
    demo = resources.files("twintrack.app").joinpath("demo", "demo_clip.mp4")
    path = Path(str(demo)) if spec == "demo" else Path(spec)
    if path.is_dir():
        return load_folder_sequences(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise UserError(f"--sequence '{spec}': not a sequence folder, nor a video with {meta_path.name} beside it")
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    if not frames:
        raise UserError(f"--sequence '{spec}': no frames could be decoded")
    init_box = np.asarray(json.loads(meta_path.read_text())["init_box"], dtype=np.float64)
    return [MemorySequence(path.stem, tuple(frames), init_box[None])]


def read_frame(item) -> np.ndarray:
    """A frame from a path (decoded here) or one already in memory."""
    return item if isinstance(item, np.ndarray) else read_image(item)


def time_tracker(tracker, frames, init_box, warmup: int = 3) -> tuple[int, float]:
    """(updates timed, seconds) for update() over frames[1 + warmup:]."""
    tracker.init(frames[0], init_box)
    for frame in frames[1 : 1 + warmup]:
        tracker.update(frame)
    start = time.perf_counter()
    for frame in frames[1 + warmup :]:
        tracker.update(frame)
    return len(frames) - 1 - warmup, time.perf_counter() - start


# Stage names of SiamFCTracker's timer, in pipeline order, with what they cover.
SIAMFC_STAGES = {
    "frame read": "decode the image file (outside the tracker)",
    "crop": "search crop(s), one warpAffine each",
    "to tensor": "uint8 HWC -> float NCHW (channels_last)",
    "backbone": "conv1-3 over the search crop(s)",
    "correlation": "exemplar(s) x search map(s): one matrix product, a gather-sum",
    "peak": "scale choice, local bicubic upsampling, cosine window, argmax",
}

# Stage names of MDNetTracker's timer, in pipeline order, with what they cover.
MDNET_STAGES = {
    "frame read": "decode the image file (outside the tracker)",
    "sampling": "candidate boxes; positive / negative boxes for the memories",
    "crop": "search-region crop and resize, to tensor",
    "conv": "conv1-3 over the search region",
    "pool": "RoIAlign of every box (per-crop path: crops + conv per box)",
    "fc4": "fc4 on pooled features (candidates, new memory samples)",
    "scoring": "fc5-fc6 on the candidates, top-k",
    "bbreg": "box regression (init: ridge fit; per frame: predict)",
    "train": "init: first-frame fine-tuning; per frame: long/short-term updates",
}


def profile(name: str, sequence, n_frames: int, warmup: int, overrides: dict, weights=None, device="cpu") -> None:
    """Where a tracker's time goes: a table of ms per stage, init() and mean per update()."""
    stages = SIAMFC_STAGES if name == "siamfc" else MDNET_STAGES
    paths = sequence.frames[:n_frames]
    tracker = create_tracker(name, weights=weights, device=device, seed=0, **overrides)
    timer = StageTimer(tracker.device)
    tracker.timer = timer

    def read(path):
        with timer.stage("frame read"):
            return read_frame(path)

    tracker.init(read_frame(paths[0]), sequence.ground_truth[0])  # warm-up: a process's first init pays set-up
    timer.reset()
    start = time.perf_counter()
    tracker.init(read(paths[0]), sequence.ground_truth[0])
    init_total = time.perf_counter() - start
    init_seconds = dict(timer.seconds)
    for path in paths[1 : 1 + warmup]:
        tracker.update(read(path))
    timer.reset()
    start = time.perf_counter()
    for path in paths[1 + warmup :]:
        tracker.update(read(path))
    frames_total = time.perf_counter() - start
    n = len(paths) - 1 - warmup
    per_frame = {k: v / n for k, v in timer.seconds.items()}

    settings = {key: getattr(tracker.config, key) for key in ("scale_mode", "feature_path", "precision")
                if hasattr(tracker.config, key)}
    engine = getattr(tracker, "backbone_engine", None)
    if engine is not None:
        settings["running"] = engine.precision
    if tracker.device.type != "cpu":
        settings["device"] = str(tracker.device)
    print(f"\n{name} stage times ({', '.join(f'{k}: {v}' for k, v in settings.items())}), {n} updates after "
          f"{warmup} warm-up frames" + (f" (long-term updates every {tracker.config.long_interval} frames are "
                                        "included in the mean)" if name == "mdnet" else "") + "\n")
    print("| stage | init (ms) | per frame (ms) | share of frame | calls in frames | what |")
    print("|---|---|---|---|---|---|")
    for stage, what in stages.items():
        ms_init, ms_frame = 1000 * init_seconds.get(stage, 0.0), 1000 * per_frame.get(stage, 0.0)
        print(f"| {stage} | {ms_init:.1f} | {ms_frame:.2f} | {ms_frame / (1000 * frames_total / n):.0%} "
              f"| {timer.calls.get(stage, 0)} | {what} |")
    other_init = init_total - sum(init_seconds.values())
    other_frame = frames_total / n - sum(per_frame.values())
    print(f"| other (untimed) | {1000 * other_init:.1f} | {1000 * other_frame:.2f} | "
          f"{other_frame / (frames_total / n):.0%} | | bookkeeping, score, Python |")
    print(f"| **total** | {1000 * init_total:.1f} | {1000 * frames_total / n:.2f} | 100% | | "
          f"{n / frames_total:.1f} fps with frame reads, {n / (frames_total - timer.seconds['frame read']):.1f} "
          f"without |")


def nano_model(option: str | None):
    """The NanoTrack v2 files to time, or None (the row is skipped) when none were given and the default is absent."""
    if option is None and not DEFAULT_NANO.is_dir():
        return None
    try:
        return nanotrack_paths(option or DEFAULT_NANO)
    except UserError as err:
        if option is not None:
            raise
        print(f"NanoTrack v2 row skipped: {err}")
        return None


def contenders(args, overrides: dict):
    """(label, tracker factory, frame limit or None) for every row between the two CSRT runs."""
    rows = []
    for label, variant in {} if args.no_siamfc else VARIANTS.items():
        rows.append((label, lambda v=variant: create_tracker("siamfc", weights=args.weights, device=args.device, **v),
                     None))
    nano = nano_model(args.nano_model)
    if nano is not None:
        rows.append(("OpenCV NanoTrack v2", lambda: OpenCVTracker("nano", model=nano), None))
    if args.mdnet:
        # The slow per-crop path only on the first --mdnet-frames of each sequence.
        for label, variant, limit in (
            ("mdnet (RoIAlign, one conv pass) [default]", {"feature_path": "roi"}, None),
            ("mdnet (RoIAlign), precision=fp32", {"feature_path": "roi", "precision": "fp32"}, None),
            (f"mdnet (per-crop 107x107), first {args.mdnet_frames} frames", {"feature_path": "crop"},
             args.mdnet_frames),
        ):
            rows.append((label, lambda v=variant: create_tracker("mdnet", weights=args.mdnet_weights,
                                                                 device=args.device, seed=0, **{**overrides, **v}),
                         limit))
    if args.twin:
        rows.append(("twin (SiamFC + MDNet, both presets)",
                     lambda: create_tracker("twin", device=args.device, seed=0, siamfc_weights=args.weights or "",
                                            mdnet_weights=args.mdnet_weights or ""), None))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", default=str(DEFAULT_SEQUENCE),
                        help="a sequence folder or a folder of them; 'demo' (the shipped demo clip) or a video file "
                        "with <stem>.json holding init_box, decoded into memory first")
    parser.add_argument("--device", default="cpu", help="device of SiamFC and MDNet: cpu (default), cuda, cuda:N")
    parser.add_argument("--weights", help="SiamFC weights (default: shipped)")
    parser.add_argument("--mdnet-weights", help="MDNet weights (default: shipped)")
    parser.add_argument("--nano-model", help="NanoTrack v2: BACKBONE.onnx,HEAD.onnx or their folder "
                                             f"(default: {DEFAULT_NANO} when it exists)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=120, help="frames per sequence (0: all)")
    parser.add_argument("--mdnet", action="store_true", help="also time MDNet (RoIAlign and per-crop paths)")
    parser.add_argument("--mdnet-frames", type=int, default=40, help="frames for the (slow) per-crop MDNet row")
    parser.add_argument("--twin", action="store_true", help="also time the twin (SiamFC and MDNet on every frame)")
    parser.add_argument("--no-siamfc", action="store_true", help="skip the SiamFC rows")
    parser.add_argument("--no-csrt", action="store_true", help="skip the CSRT rows (fps only, no ratio)")
    parser.add_argument("--profile", nargs="*", choices=("siamfc", "mdnet"),
                        help="only print time per stage of these trackers (both when none is named)")
    parser.add_argument("--profile-frames", type=int, default=60)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides for the profiled tracker(s) and MDNet's rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sequences = load_sequences(args.sequence)
    overrides = parse_overrides(args.set)
    if args.profile is not None:
        print(f"{sequences[0].name}, torch threads {args.threads}, torch {torch.__version__}{device_note(args)}")
        for name in args.profile or ("siamfc", "mdnet"):
            profile(name, sequences[0], args.profile_frames, warmup=3, overrides=overrides,
                    weights=args.weights if name == "siamfc" else args.mdnet_weights, device=args.device)
        return 0
    rows = contenders(args, overrides)
    csrt = lambda: OpenCVTracker("csrt")  # noqa: E731
    # CSRT is in OpenCV's contrib build only (a GPU machine may have the plain headless one): without it, fps alone.
    with_csrt = hasattr(cv2, "TrackerCSRT") and not args.no_csrt
    if with_csrt:
        rows = [("OpenCV CSRT", csrt, None), *rows, ("OpenCV CSRT (again)", csrt, None)]
    else:
        print("OpenCV CSRT rows skipped" + ("" if args.no_csrt else " (this OpenCV build has no TrackerCSRT)"))
    totals = {label: [0, 0.0] for label, _, _ in rows}
    frame_count = 0
    for sequence in sequences:
        frames = [read_frame(p) for p in sequence.frames[: args.frames or None]]
        if len(frames) < 5:
            continue
        frame_count += len(frames)
        init_box = sequence.ground_truth[0]
        # CSRT first and last on every sequence: the machine's load may change during the run.
        for label, build, limit in rows:
            count, seconds = time_tracker(build(), frames[:limit], init_box)
            totals[label][0] += count
            totals[label][1] += seconds
    fps = {label: count / seconds for label, (count, seconds) in totals.items()}
    csrt_fps = float(np.mean([fps["OpenCV CSRT"], fps["OpenCV CSRT (again)"]])) if with_csrt else None
    names = sequences[0].name if len(sequences) == 1 else f"{len(sequences)} sequences of {args.sequence}"
    print(f"{names}: {frame_count} frames, torch threads {args.threads}, torch {torch.__version__}"
          f"{device_note(args)}\n")
    print("| tracker | fps | ratio to CSRT |")
    print("|---|---|---|")
    for label, value in fps.items():
        print(f"| {label} | {value:.1f} | " + (f"{value / csrt_fps:.2f}x |" if csrt_fps else "n/a |"))
    return 0


def device_note(args) -> str:
    """``, device cuda (NVIDIA H100 ...)`` off the CPU, else nothing (the CPU tables keep their heading)."""
    if args.device == "cpu":
        return ""
    name = torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else args.device
    return f", device {args.device} ({name}) for SiamFC and MDNet"


if __name__ == "__main__":
    sys.exit(main())
