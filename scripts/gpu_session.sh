#!/bin/bash
# One lent-GPU session, prepared here and run there once (the device tool's `run`), results under $OUT:
#   1. throughput of one SiamFC training run alone (pairs/s, fraction of steps that waited on data);
#   2. the optimizer study (bench/optimizer_study.py), four optimizers in parallel on the one GPU;
#   3. MDNet multi-domain training on the best study backbone, for the time that is left.
# Inputs travel as carried, git-ignored files: .gpu/pack.tgz (`twintrack precrop` of the training data),
# .gpu/valsub.tgz (a few val sequences for the curves), .whl/ (pytorch-optimizer, missing there).
# SMOKE=1 runs the same steps tiny on the CPU here, to catch mistakes before spending GPU time.
# shellcheck source=scripts/gpu_prelude.sh
source "$(dirname "$0")/gpu_prelude.sh"

if [ "${SMOKE:-0}" = 1 ]; then
    DEVICE=cpu; PY=${PY:-.venv/bin/python}
    THROUGHPUT="epochs=1 pairs_per_epoch=16 batch_size=8 workers=2"
    STUDY_EPOCHS=2; STUDY_BATCH=8; STUDY_WORKERS=1; STUDY_PAIRS_CAP=16; STUDY_SECONDS=20; VAL_EVERY=1; STUDY_MAX_MIN=0.5
    MDNET_SECONDS=40; MDNET_ITERS=6
else
    DEVICE=cuda; PY=python3
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
    THROUGHPUT="epochs=3 pairs_per_epoch=19200 batch_size=64 workers=12"
    STUDY_EPOCHS=12; STUDY_BATCH=64; STUDY_WORKERS=3; STUDY_PAIRS_CAP=40000; STUDY_SECONDS=270; VAL_EVERY=4; STUDY_MAX_MIN=4.8
    MDNET_SECONDS=100; MDNET_ITERS=8000
fi
export PYTHONPATH=$REPO:/tmp/site

tar xzf .gpu/pack.tgz -C "$WORK/data" && tar xzf .gpu/valsub.tgz -C "$WORK/data" || exit 1
VAL=$WORK/data/valsub
if [ "${SMOKE:-0}" = 1 ]; then  # one short sequence: tracking on a busy CPU is slow
    mkdir -p "$WORK/data/valsmoke" && cp -r "$VAL/davis16_drift-chicane" "$WORK/data/valsmoke/" && VAL=$WORK/data/valsmoke
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
$PY -c "import torch, torchvision, pytorch_optimizer, cv2; print('torch', torch.__version__, 'tv', torchvision.__version__, \
'cuda', torch.cuda.is_available(), 'cpus', __import__('os').cpu_count())"
RUNS=$WORK/runs
mkdir -p "$RUNS"

echo "== 1. throughput, one run alone ($(elapsed) s)"
timeout 120 $PY -m twintrack train siamfc --data "$WORK/data/pack" --out "$RUNS/throughput" --device $DEVICE \
    $THROUGHPUT 2>&1 | grep -v "it/s\]" | tail -3
cat "$RUNS/throughput/metrics.csv"

# Size the study from the measured rate: four runs share the GPU, assume each gets 3/8 of a lone run's rate.
PAIRS=$($PY - "$RUNS/throughput/metrics.csv" $STUDY_PAIRS_CAP $STUDY_SECONDS $STUDY_EPOCHS $STUDY_BATCH <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rate = float(rows[-1]["samples_per_s"]) if rows else 500.0
cap, seconds, epochs, batch = (int(float(v)) for v in sys.argv[2:6])
pairs = min(cap, int(rate * 3 / 8 * seconds / epochs))
print(max(batch, pairs // batch * batch))
EOF
)
echo "== 2. optimizer study: $STUDY_EPOCHS epochs x $PAIRS pairs ($(elapsed) s)"
$PY bench/optimizer_study.py --data "$WORK/data/pack" --out "$RUNS/study" --curve-val "$VAL" --val "$VAL" --parallel 4 --device $DEVICE --doc "$RUNS/docs" \
    epochs=$STUDY_EPOCHS pairs_per_epoch=$PAIRS batch_size=$STUDY_BATCH workers=$STUDY_WORKERS val_every=$VAL_EVERY \
    max_minutes=$STUDY_MAX_MIN
for run in "$RUNS"/study/*/; do tail -c 600 "$run/train.log" | tr '\r' '\n' | grep -v "it/s\]" | tail -2; done
$PY - "$RUNS/study/adam_then_sgd/checkpoint.pt" <<'EOF'
import sys, torch
try:
    groups = torch.load(sys.argv[1], map_location="cpu", weights_only=True)["optimizer"]["param_groups"]
    print("adam_then_sgd groups:", [{k: g.get(k) for k in ("lr", "switched", "sgd_ratio")} for g in groups])
except Exception as err:
    print("adam_then_sgd checkpoint:", err)
EOF

BEST=$($PY - "$RUNS/study" <<'EOF'
import csv, pathlib, sys
best, best_auc = "momentum", -1.0
for run in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    rows = [r for r in csv.DictReader(open(run / "metrics.csv"))] if (run / "metrics.csv").exists() else []
    aucs = [float(r["val_auc"]) for r in rows if r.get("val_auc")]
    if aucs and aucs[-1] > best_auc:
        best, best_auc = run.name, aucs[-1]
print(best)
EOF
)
echo "== 3. MDNet on the $BEST backbone, ${MDNET_SECONDS} s ($(elapsed) s)"
timeout $MDNET_SECONDS $PY -m twintrack train mdnet --data "$WORK/data/pack" --out "$RUNS/mdnet" --device $DEVICE \
    --backbone "$RUNS/study/$BEST/siamfc_vggm.safetensors" iterations=$MDNET_ITERS checkpoint_every=250 2>&1 \
    | tr '\r' '\n' | grep -v "it/s\]" | tail -2
tail -2 "$RUNS/mdnet/metrics.csv"

echo "== 4. results ($(elapsed) s)"
bring_back "$WORK" runs --exclude=runs/throughput/siamfc_vggm.safetensors
echo "done in $(elapsed) s"
