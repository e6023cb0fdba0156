#!/bin/bash
# SiamFC retraining on a lent GPU, prepared here and run there once (the device tool's `run`), results under $OUT.
# The CPU here trains at about 5 pairs/s (docs/selection.md, session 6); a GPU does the 60,000-pair recipe in about
# a minute, so the open questions of the accuracy issue fit in one call: several training seeds, with and without
# DaSiamRPN negative pairs, all on the training sequences outside the selection fold, each with a val-AUC curve.
#
# Inputs (git-ignored, passed with the run tool's `carry`; with the tracked files (29 MB) under its 64 MiB):
#   .gpu/pack.tgz     twintrack precrop --data runs/data_nofold runs/images_nobees --out .gpu/pack --quality 75 \
#                         --max-frames 120, its JPEGs then re-encoded at quality 60 (cv2.imwrite), and
#                         tar czf .gpu/pack.tgz -C .gpu pack        (5,358 crops, 33 MB)
#   .gpu/valsub.tgz   a few val sequences for the curves: tar czf .gpu/valsub.tgz -C .gpu valsub after copying
#                     davis16_drift-chicane davis16_parkour MountainBike6 from ../shared/data/sot/val into .gpu/valsub,
#                     their JPEGs re-encoded at quality 70 (3.7 MB; the curve only orders epochs; the decision is
#                     bench/selection.py on all of val and the fold, here, afterwards)
#   .gpu/nanotrack.tgz  optional, the distillation teacher (train/teacher.py): tar czf .gpu/nanotrack.tgz -C
#                     ../shared/models nanotrack (1.6 MiB; a user-side copy of NanoTrack v2, never committed).
#                     With it, the last slot distils from it on s0_plain's pairs (OpenCV DNN in 4 loader
#                     workers, ~11 ms a pair each).
# Run: run(command="OUT=$OUT bash scripts/gpu_siamfc_sweep.sh", carry=[".gpu/pack.tgz", ".gpu/valsub.tgz",
#      ".gpu/nanotrack.tgz"],
#      timeout_s=540): about 5 minutes expected (8 runs at once, each stopped by max_minutes=4 at worst;
#      MAX_MINUTES and PARALLEL override).
# Output: $OUT/sweep.tgz.part-* (each run's metrics.csv, config.yaml, curves.png, log and final weights: ~55 MB).
# Then here: cat sweep.tgz.part-* | tar xz, and for each run
#   bench/selection.py --tracker siamfc --base-set precision=fp32 --set precision=fp32 \
#       --candidate-weights runs/sweep/NAME/siamfc_vggm.safetensors --out runs/select_siamfc --reference
# SMOKE=1 runs the same steps tiny on this CPU, to catch mistakes before spending GPU time.
# shellcheck source=scripts/gpu_prelude.sh
source "$(dirname "$0")/gpu_prelude.sh"

if [ "${SMOKE:-0}" = 1 ]; then
    DEVICE=cpu; PY=${PY:-.venv/bin/python}; PARALLEL=${PARALLEL:-2}; BIG_PAIRS=32; TEACHER_WORKERS=1
    COMMON="epochs=2 pairs_per_epoch=16 batch_size=8 workers=1 val_every=1 max_minutes=1"
else
    DEVICE=cuda; PY=python3; PARALLEL=${PARALLEL:-8}; BIG_PAIRS=9600; TEACHER_WORKERS=4
    # The preset's 25 x 2,400 pairs, at GPU batch size, all eight at once on the 16 cores; max_minutes bounds a slow
    # GPU or loader (each run then validates, saves and stops).
    COMMON="epochs=25 pairs_per_epoch=2400 batch_size=64 workers=1 val_every=5 max_minutes=${MAX_MINUTES:-4}"
fi
export PYTHONPATH=$REPO

tar xzf .gpu/pack.tgz -C "$WORK/data" && tar xzf .gpu/valsub.tgz -C "$WORK/data" || exit 1
TEACHER=""
if [ -f .gpu/nanotrack.tgz ]; then tar xzf .gpu/nanotrack.tgz -C "$WORK/data" && TEACHER=$WORK/data/nanotrack; fi
VAL=$WORK/data/valsub
if [ "${SMOKE:-0}" = 1 ]; then  # one short sequence: tracking on a busy CPU is slow
    mkdir -p "$WORK/data/valsmoke" && cp -r "$(ls -d "$VAL"/*/ | head -1)" "$WORK/data/valsmoke/" && VAL=$WORK/data/valsmoke
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

# name: overrides (a trailing --backbone FILE starts from those weights). Session 7 found negative pairs lowering
# val, so the preset recipe (no negative pairs) gets three seeds (the gain from data alone, as a seed mean), a run
# with 4x the pairs per epoch gets two, one negative-pair run pairs with s0_plain, distillation (when the teacher is
# carried) pairs with s0_plain on the same pairs, and a fine-tune of the shipped weights without negative pairs
# runs 10 epochs at lr 1e-4 (one such epoch tied the shipped weights on the CPU).
VARIANTS=(
    "s0_plain:seed=0"
    "s1_plain:seed=1"
    "s2_plain:seed=2"
    "s0_big:seed=0 pairs_per_epoch=$BIG_PAIRS"
    "s1_big:seed=1 pairs_per_epoch=$BIG_PAIRS"
    "s0_neg:seed=0 negative_pair_prob=0.2"
    "s0_ftlow:seed=0 epochs=10 lr=1e-4 lr_final=1e-5 val_every=2 --backbone twintrack/weights/siamfc_vggm.safetensors"
    "s2_neg_blur:seed=2 negative_pair_prob=0.2 motion_blur_prob=0.1"
)
if [ -n "$TEACHER" ]; then  # the last slot: distillation on s0_plain's pairs, with more loader workers for the teacher
    VARIANTS[7]="s0_distill:seed=0 workers=$TEACHER_WORKERS distill_weight=0.5 distill_teacher=$TEACHER"
fi
RUNS=$WORK/runs/sweep
mkdir -p "$RUNS"
running=0
for variant in "${VARIANTS[@]}"; do
    name=${variant%%:*}; overrides=${variant#*:}
    echo "== $name: $overrides ($(elapsed) s)"
    # shellcheck disable=SC2086  # the overrides are separate key=value words
    $PY -m twintrack train siamfc --data "$WORK/data/pack" --out "$RUNS/$name" --device $DEVICE \
        $COMMON val_data="$VAL" $overrides >"$RUNS/$name.log" 2>&1 &
    running=$((running + 1))
    if [ $running -ge $PARALLEL ]; then wait -n; running=$((running - 1)); fi
done
wait
summarize_runs "$RUNS"

echo "== results ($(elapsed) s)"
# The final weights come back, not the best epoch's: on 2026-11-28 the three-sequence curve was noise (0.13-0.27,
# flat) and kept early epochs (docs/selection.md, session 8).
bring_back "$WORK/runs" sweep --exclude=tb --exclude="best_*"
echo "done in $(elapsed) s"
