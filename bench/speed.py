"""Tracking speed beside OpenCV CSRT, measured in the same run on the same frames.

    python bench/speed.py [--sequence DATA_ROOT/sot/val/bag] [--frames 120] [--threads 2] [--mdnet] [--twin]
    python bench/speed.py --sequence DATA_ROOT/sot/val --frames 0      # every frame of every sequence
    python bench/speed.py --profile [siamfc|mdnet] [--profile-frames 60] [--set key=value ...]
    python bench/speed.py --crops [--device cuda]                      # device crops against cv2 crops
    python bench/speed.py --device cuda --sequence demo --mdnet        # on a GPU (scripts/gpu_bench.sh)

Times update() only (frames decoded beforehand), after a few warm-up frames, and prints fps and the ratio to
CSRT for SiamFC's inference settings, OpenCV's NanoTrack v2 (when its ONNX files are found: ``--nano-model``,
default $TWINTRACK_NANOTRACK, else models/nanotrack beside the data root) and VitTrack (likewise: ``--vit-model``,
$TWINTRACK_VITTRACK, models/vittrack), with ``--mdnet`` MDNet's two feature paths and with ``--twin`` the twin.
``--sequence`` is one sequence folder or a folder of them; with several, each sequence runs every tracker in turn
(CSRT first and last) and fps is total frames over total time. A shared machine is noisy: read the ratios, not
the bare times. DATA_ROOT is $TWINTRACK_DATA, else ../shared/data beside the repository.

``--profile`` instead tracks with SiamFC and/or MDNet (both when none is named), reading each frame from disk, and
prints where the time goes: ms per stage for init() and per update() (mean over the frames after warm-up), from a
StageTimer attached to the tracker. ``--set`` overrides apply to the profiled tracker(s) (and to MDNet's rows).

``--crops`` instead times the crops the trackers cut per frame: cv2 on the CPU and one upload per batch of crops,
against the frame uploaded once and every crop cut there by one grid_sample (twintrack/tracker/device_crop.py), and
prints their largest difference in grey levels.

``--device`` (default cpu) runs SiamFC and MDNet there (OpenCV's trackers stay on the CPU); on CUDA every update()
ends in a device-to-host copy of its scores, so the times include the GPU's work. ``--sequence demo`` (or a video
file with a ``.json`` beside it holding ``init_box``) times the clip shipped for ``twintrack demo``, decoded into
memory first: what a machine without the data has.
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
from twintrack.eval.baselines import OpenCVTracker, nanotrack_paths, vittrack_path
from twintrack.eval.paths import default_nanotrack, default_vittrack, sot_folder
from twintrack.eval.sequences import load_folder_sequences
from twintrack.geometry import crop_and_resize
from twintrack.tracker.device_crop import crop_resize, upload_frame
from twintrack.tracker.timing import StageTimer

PAPER = {"scale_mode": "search3", "scale_num": 3, "scale_step": 1.0375}  # SiamFC-3s as published
VARIANTS = {
    "siamfc search3 fp32 (the paper: 3 crops, 3 backbone passes)": {**PAPER, "precision": "fp32"},
    "siamfc pyramid fp32 (1 search crop, 1 backbone pass)": {"scale_mode": "pyramid", "precision": "fp32"},
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


# (label, crops per frame, output side, side in frame pixels as a share of the frame's shorter side): SiamFC's
# pyramid and search3 search crops and its exemplars, MDNet's region and its per-crop path (256 candidates).
CROP_CASES = (("siamfc search, 1 x 255", 1, 255, 0.8), ("siamfc search3, 3 x 255", 3, 255, 0.8),
              ("siamfc exemplars, 5 x 127", 5, 127, 0.4), ("mdnet region, 1 x 255", 1, 255, 0.9),
              ("mdnet crop path, 256 x 107", 256, 107, 0.25))


def time_crops(sequence, device: torch.device, n_frames: int = 60) -> None:
    """Print ms per frame of cv2 crops uploaded per batch against device crops (one upload, one grid_sample), and
    their largest difference in grey levels."""
    frames = [read_frame(f) for f in sequence.frames[:n_frames]]
    height, width = frames[0].shape[:2]
    colour = frames[0].reshape(-1, 3).mean(axis=0)
    rng = np.random.default_rng(0)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def cv2_crops(frame, centres, sides, size):
        crops = np.stack([crop_and_resize(frame, c, s, size, colour) for c, s in zip(centres, sides)])
        return torch.from_numpy(crops).to(device).permute(0, 3, 1, 2).float()

    def device_crops(frame, centres, sides, size):
        return crop_resize(upload_frame(frame, device), centres, sides, size, colour)

    print(f"{sequence.name}: {len(frames)} frames of {width}x{height}, device {device}\n")
    print("| crops per frame | cv2 + upload (ms/frame) | device crop (ms/frame) | speed-up | max abs diff (grey levels) |")
    print("|---|---|---|---|---|")
    for label, count, size, share in CROP_CASES:
        centres = np.column_stack([rng.uniform(0, width, count), rng.uniform(0, height, count)])
        sides = share * min(height, width) * rng.uniform(0.9, 1.1, count)
        ms = {}
        for name, cut in (("cv2", cv2_crops), ("device", device_crops)):
            for frame in frames[:5]:  # warm-up: kernels, allocator
                cut(frame, centres, sides, size)
            sync()
            start = time.perf_counter()
            for frame in frames:
                cut(frame, centres, sides, size)
            sync()
            ms[name] = 1000 * (time.perf_counter() - start) / len(frames)
        diff = float((cv2_crops(frames[0], centres, sides, size) - device_crops(frames[0], centres, sides, size))
                     .abs().max())
        print(f"| {label} | {ms['cv2']:.3f} | {ms['device']:.3f} | {ms['cv2'] / ms['device']:.2f}x | {diff:.2f} |")


def nano_model(option: str | None):
    """The NanoTrack v2 files to time, or None (the row is skipped) when none were given and the default is absent."""
    if option is None and default_nanotrack() is None:
        return None
    try:
        return nanotrack_paths(option or default_nanotrack())
    except UserError as err:
        if option is not None:
            raise
        print(f"NanoTrack v2 row skipped: {err}")
        return None


def vit_model(option: str | None):
    """The VitTrack file to time, or None (the row is skipped) when none was given and the default is absent."""
    if option is None and default_vittrack() is None:
        return None
    try:
        return vittrack_path(option or default_vittrack())
    except UserError as err:
        if option is not None:
            raise
        print(f"VitTrack row skipped: {err}")
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
    vit = vit_model(args.vit_model)
    if vit is not None:
        rows.append(("OpenCV VitTrack", lambda: OpenCVTracker("vit", model=vit), None))
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
    parser.add_argument("--sequence", default=str(sot_folder("val") / "bag"),
                        help="a sequence folder or a folder of them; 'demo' (the shipped demo clip) or a video file "
                        "with <stem>.json holding init_box, decoded into memory first")
    parser.add_argument("--device", default="cpu", help="device of SiamFC and MDNet: cpu (default), cuda, cuda:N")
    parser.add_argument("--weights", help="SiamFC weights (default: shipped)")
    parser.add_argument("--mdnet-weights", help="MDNet weights (default: shipped)")
    parser.add_argument("--nano-model", help="NanoTrack v2: BACKBONE.onnx,HEAD.onnx or their folder "
                                             "(default: $TWINTRACK_NANOTRACK, else models/nanotrack beside "
                                             "the data root when it exists)")
    parser.add_argument("--vit-model", help="VitTrack's ONNX file or its folder (default: $TWINTRACK_VITTRACK, else "
                                            "models/vittrack beside the data root when it exists)")
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
    parser.add_argument("--crops", action="store_true", help="only time device crops against cv2 crops")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides for the profiled tracker(s) and MDNet's rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sequences = load_sequences(args.sequence)
    overrides = parse_overrides(args.set)
    if args.crops:
        time_crops(sequences[0], torch.device(args.device))
        return 0
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
