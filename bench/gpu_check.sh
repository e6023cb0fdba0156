#!/usr/bin/env bash
# One-shot GPU check for a lent CUDA machine (about 3 minutes on an H100; needs neither ../shared nor a network).
#
#   bash bench/gpu_check.sh [SEQUENCE]    # from the repository root; OUT=results folder (default /tmp/gpu_check_out)
#
# SEQUENCE: a sequence folder (img/ + groundtruth), or a video with <stem>.json holding init_box; default: the clip
# `twintrack demo` tracks (twintrack/tracker/demo/demo_clip.mp4, 320x240, 100 frames), carried with the repository.
# Writes:
#   $OUT/gpu_tests.txt   python -m pytest -m gpu: every CUDA test (skipped on a machine without CUDA)
#   $OUT/gpu_speed.txt   SiamFC and MDNet fps per stream on CUDA, frames decoded into memory first (bench/speed.py
#                        --device cuda), their per-stage times (--profile), and crops cut on the GPU
#                        (tracker/device_crop.py) against cv2 crops uploaded one by one
# Each part has its own time limit (7 minutes in all at worst; about 3 expected on an H100), so a hang in one still
# leaves the others' results. The fps and stage times include every device-to-host copy a tracker makes per frame.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-/tmp/gpu_check_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
SEQUENCE="${1:-demo}"
DEVICE="${DEVICE:-cuda}"  # DEVICE=cpu checks the speed parts' Python on a machine without a GPU
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
    "$PY" -c "import torch, cv2; print('torch', torch.__version__, 'cuda', torch.version.cuda, cv2.__version__)"
    "$PY" -c "import torch; print('cuda available:', torch.cuda.is_available())"
} >"$OUT/gpu_speed.txt" 2>&1

echo "== (a) pytest -m gpu"
# --continue-on-collection-errors: a module that imports a package this machine lacks (got10k) must not stop the
# collection of the others.
timeout 180 "$PY" -m pytest -m gpu -q -p no:cacheprovider -rs --continue-on-collection-errors tests \
    >"$OUT/gpu_tests.txt" 2>&1
echo "pytest exit status $?" >>"$OUT/gpu_tests.txt"
tail -n 25 "$OUT/gpu_tests.txt"

echo "== (b) speed on $DEVICE: $SEQUENCE"
{
    echo
    # SiamFC and MDNet in separate runs (each prints its table at its end): a slow MDNet cannot take SiamFC's.
    echo "## SiamFC fps per stream (bench/speed.py --device $DEVICE --sequence $SEQUENCE --frames 0)"
    timeout 60 "$PY" bench/speed.py --device "$DEVICE" --sequence "$SEQUENCE" --frames 0 --threads 4 2>&1
    echo "(exit status $?)"
    echo
    echo "## MDNet fps per stream (... --no-siamfc --no-csrt --mdnet --mdnet-frames 20)"
    timeout 100 "$PY" bench/speed.py --device "$DEVICE" --sequence "$SEQUENCE" --frames 0 --no-siamfc --no-csrt \
        --mdnet --mdnet-frames 20 --threads 4 2>&1
    echo "(exit status $?)"
    echo
    echo "## per-stage times (bench/speed.py --profile --device $DEVICE)"
    timeout 50 "$PY" bench/speed.py --profile siamfc mdnet --device "$DEVICE" --sequence "$SEQUENCE" \
        --profile-frames 60 --threads 4 2>&1
    echo "(exit status $?)"
    echo
    echo "## crops: cv2 on the CPU + one upload per crop batch, against the frame uploaded once + one grid_sample"
    timeout 30 "$PY" - "$SEQUENCE" "$DEVICE" <<'PYEOF' 2>&1
import sys
import time

import numpy as np
import torch

sys.path.insert(0, "bench")
from speed import load_sequences, read_frame  # noqa: E402

from twintrack.geometry import crop_and_resize  # noqa: E402
from twintrack.tracker.device_crop import crop_resize, upload_frame  # noqa: E402

torch.set_num_threads(4)
device = torch.device(sys.argv[2])
sequence = load_sequences(sys.argv[1])[0]
frames = [read_frame(f) for f in sequence.frames[:60]]
h, w = frames[0].shape[:2]
colour = frames[0].reshape(-1, 3).mean(axis=0)
rng = np.random.default_rng(0)
# (label, crops per frame, output side, side in frame pixels): SiamFC pyramid / search3 / exemplar pyramid, MDNet's
# region and its per-crop path (256 candidates).
cases = [("siamfc search, 1 x 255", 1, 255, 0.8 * min(h, w)), ("siamfc search3, 3 x 255", 3, 255, 0.8 * min(h, w)),
         ("siamfc exemplars, 5 x 127", 5, 127, 0.4 * min(h, w)), ("mdnet region, 1 x 255", 1, 255, 0.9 * min(h, w)),
         ("mdnet crop path, 256 x 107", 256, 107, 0.25 * min(h, w))]


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()


def cv2_crops(frame, centres, sides, size):
    crops = np.stack([crop_and_resize(frame, c, s, size, colour) for c, s in zip(centres, sides)])
    return torch.from_numpy(crops).to(device).permute(0, 3, 1, 2).float()


def gpu_crops(frame, centres, sides, size):
    return crop_resize(upload_frame(frame, device), centres, sides, size, colour)


print("| crops per frame | cv2 + upload (ms/frame) | device crop (ms/frame) | speed-up | max abs diff (grey levels) |")
print("|---|---|---|---|---|")
for label, count, size, side in cases:
    centres = np.column_stack([rng.uniform(0, w, count), rng.uniform(0, h, count)])
    sides = side * rng.uniform(0.9, 1.1, count)
    times = {}
    for name, fn in (("cv2", cv2_crops), ("gpu", gpu_crops)):
        for frame in frames[:5]:  # warm-up: kernels, allocator
            fn(frame, centres, sides, size)
        sync()
        start = time.perf_counter()
        for frame in frames:
            fn(frame, centres, sides, size)
        sync()
        times[name] = 1000 * (time.perf_counter() - start) / len(frames)
    diff = float((cv2_crops(frames[0], centres, sides, size) - gpu_crops(frames[0], centres, sides, size)).abs().max())
    print(f"| {label} | {times['cv2']:.3f} | {times['gpu']:.3f} | {times['cv2'] / times['gpu']:.2f}x | {diff:.2f} |")
PYEOF
    echo "(exit status $?)"
    date -u
} >>"$OUT/gpu_speed.txt" 2>&1
cat "$OUT/gpu_speed.txt"
