#!/usr/bin/env bash
# The GPU benchmarks: fps per stream, time per stage, device crops and several objects at once, on CUDA.
#
#   bash scripts/gpu_bench.sh [SEQUENCE] [OUT]     # from anywhere; OUT: results folder (default runs/gpu_bench)
#
# SEQUENCE: a sequence folder (img/ + ground truth) or a video with <stem>.json holding init_box; default: the clip
# `twintrack demo` tracks (twintrack/app/demo/demo_clip.mp4, 320x240, 100 frames), so no data folder is needed.
# Writes OUT/gpu_bench.txt:
#   - SiamFC and MDNet fps per stream (bench/speed.py --device cuda, frames decoded into memory first; the times
#     include every device-to-host copy a tracker makes per frame);
#   - their per-stage times (bench/speed.py --profile);
#   - crops cut on the GPU against cv2 crops uploaded per batch (bench/speed.py --crops);
#   - MultiTracker's cost for 1, 4 and 16 objects against one (bench/multi.py --device cuda).
# Each part has its own time limit, so a hang in one still leaves the others' results. PYTHON names the interpreter
# (default: python); DEVICE=cpu runs the same parts on the CPU.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SEQUENCE=${1:-demo}
OUT=${2:-runs/gpu_bench}
PYTHON=${PYTHON:-python}
DEVICE=${DEVICE:-cuda}
VIDEO=$SEQUENCE
[ "$SEQUENCE" = demo ] && VIDEO=twintrack/app/demo/demo_clip.mp4
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
REPORT=$OUT/gpu_bench.txt

part() {  # part TITLE SECONDS COMMAND...: a heading, the command under a time limit, its exit status
    local title=$1 seconds=$2
    shift 2
    echo
    echo "## $title"
    timeout "$seconds" "$@" 2>&1
    echo "(exit status $?)"
}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
    "$PYTHON" -c "import torch, cv2; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'opencv', cv2.__version__)"
    # SiamFC and MDNet in separate runs (each prints its table at its end): a slow MDNet cannot take SiamFC's.
    part "SiamFC fps per stream" 60 "$PYTHON" bench/speed.py --device "$DEVICE" --sequence "$SEQUENCE" --frames 0 \
        --threads 4
    part "MDNet fps per stream" 100 "$PYTHON" bench/speed.py --device "$DEVICE" --sequence "$SEQUENCE" --frames 0 \
        --no-siamfc --no-csrt --mdnet --mdnet-frames 20 --threads 4
    part "time per stage" 60 "$PYTHON" bench/speed.py --profile siamfc mdnet --device "$DEVICE" \
        --sequence "$SEQUENCE" --profile-frames 60 --threads 4
    part "device crops against cv2 crops" 30 "$PYTHON" bench/speed.py --crops --device "$DEVICE" \
        --sequence "$SEQUENCE" --threads 4
    part "several objects (MultiTracker)" 90 "$PYTHON" bench/multi.py --device "$DEVICE" --video "$VIDEO" \
        --objects 1 4 16 --frames 40 --no-loop
} >"$REPORT" 2>&1
cat "$REPORT"
