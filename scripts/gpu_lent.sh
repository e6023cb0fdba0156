#!/bin/bash
# Everything a lent GPU should do, in one call of the device tool (its start costs minutes of a 15-minute budget):
#   run(command="OUT=$OUT bash scripts/gpu_lent.sh", carry=[".gpu/pack.tgz", ".gpu/valsub.tgz", ".gpu/nanotrack.tgz"],
#       timeout_s=580)
# 1. pytest -m gpu (every CUDA test), beside 2. the SiamFC training sweep (scripts/gpu_siamfc_sweep.sh, its inputs
# as its header says), then 3. MultiTracker's cost for 1, 4 and 16 objects on the GPU (bench/multi.py, the
# multi-object issue's GPU goal) and 4. SiamFC's fps on the GPU (bench/speed.py), while the time lasts.
# Results: $OUT/report.txt (the tests, the sweep's log, the two benchmarks) and the sweep's $OUT/sweep.tgz.part-*;
# at most 8 files come back, so the text goes into one.
# shellcheck source=scripts/gpu_prelude.sh
source "$(dirname "$0")/gpu_prelude.sh"
export PYTHONPATH=$REPO
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
REPORTS=$WORK/reports
mkdir -p "$REPORTS"

(timeout 240 "$PY" -m pytest -m gpu -q -p no:cacheprovider -rs --continue-on-collection-errors tests \
    >"$REPORTS/1_gpu_tests.txt" 2>&1; echo "pytest exit status $?" >>"$REPORTS/1_gpu_tests.txt") &
OUT=$OUT WORK=$WORK bash scripts/gpu_siamfc_sweep.sh >"$REPORTS/2_sweep.txt" 2>&1
wait
echo "sweep and tests done at $(elapsed) s"
if [ "$(elapsed)" -lt 470 ]; then
    timeout 60 "$PY" bench/multi.py --device "$DEVICE" --video "$WORK/data/valsub/MountainBike6" --objects 1 4 16 \
        --frames 40 --no-loop >"$REPORTS/3_multi.txt" 2>&1
    echo "(exit status $?)" >>"$REPORTS/3_multi.txt"
fi
if [ "$(elapsed)" -lt 510 ]; then
    timeout 45 "$PY" bench/speed.py --device "$DEVICE" --sequence demo --frames 0 --threads 4 \
        >"$REPORTS/4_speed.txt" 2>&1
    echo "(exit status $?)" >>"$REPORTS/4_speed.txt"
fi
for report in "$REPORTS"/*.txt; do echo "#### $(basename "$report")"; cat "$report"; done >"$OUT/report.txt"
tail -n 60 "$REPORTS/1_gpu_tests.txt"; tail -n 30 "$REPORTS/2_sweep.txt"; cat "$REPORTS"/3_*.txt "$REPORTS"/4_*.txt 2>/dev/null
echo "all done in $(elapsed) s"
