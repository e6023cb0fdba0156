#!/usr/bin/env bash
# Train SiamFC, then MDNet on its backbone, on a CUDA machine.
#
#   bash scripts/gpu_train.sh DATA OUT [key=value ...]
#
# DATA: a pack from `twintrack precrop` (fast to load: the crops are cut once) or folders of sequences, as
# `twintrack train --data` takes them (quote several: "PACK OTHER"). OUT: the run folder; SiamFC trains into
# OUT/siamfc, then MDNet into OUT/mdnet from OUT/siamfc/siamfc_vggm.safetensors. key=value overrides go to SiamFC's
# training (twintrack/configs/train_siamfc.yaml); MDNET_SET="key=value ..." to MDNet's (train_mdnet.yaml).
# Defaults here: the presets' recipes, with SIAMFC_WORKERS (default 8) loader processes for SiamFC.
# VAL=FOLDER tracks that folder of sequences every 5 epochs of SiamFC's training (the val-AUC curve). PYTHON names
# the interpreter (default: python); DEVICE the device (default: cuda). Each run resumes from its checkpoint when OUT
# already holds it.
#
# Then judge the new weights against the shipped ones on this or any machine with the data (docs/experiments.md):
#   python bench/selection.py --tracker siamfc --candidate-weights OUT/siamfc/siamfc_vggm.safetensors
#   python bench/selection.py --tracker mdnet --candidate-weights OUT/mdnet/mdnet_vggm.safetensors
# and, for the int8 path, calibrate them: twintrack export --int8 (docs/runtime.md).
set -eu
if [ $# -lt 2 ]; then
    sed -n '2,18p' "$0"
    exit 2
fi
DATA=$1
OUT=$2
shift 2
PYTHON=${PYTHON:-python}
DEVICE=${DEVICE:-cuda}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true

resume() {  # --resume when RUN_DIR holds a checkpoint
    [ -f "$1/checkpoint.pt" ] && echo --resume || true
}

SIAMFC_VAL=()
if [ -n "${VAL:-}" ]; then SIAMFC_VAL=("val_data=$VAL" "val_every=5"); fi
echo "== SiamFC -> $OUT/siamfc"
# shellcheck disable=SC2046,SC2086  # DATA and MDNET_SET are lists of words
"$PYTHON" -m twintrack train siamfc --data $DATA --out "$OUT/siamfc" --device "$DEVICE" $(resume "$OUT/siamfc") \
    "workers=${SIAMFC_WORKERS:-8}" "${SIAMFC_VAL[@]}" "$@"
echo "== MDNet -> $OUT/mdnet"
# shellcheck disable=SC2046,SC2086
"$PYTHON" -m twintrack train mdnet --data $DATA --out "$OUT/mdnet" --device "$DEVICE" $(resume "$OUT/mdnet") \
    --backbone "$OUT/siamfc/siamfc_vggm.safetensors" ${MDNET_SET:-}
echo "== done: $OUT/siamfc/siamfc_vggm.safetensors, $OUT/mdnet/mdnet_vggm.safetensors"
