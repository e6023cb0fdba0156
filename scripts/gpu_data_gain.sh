#!/bin/bash
# The accuracy issue's "gain on val from data alone": the SiamFC preset recipe (batch 16, 25 x 2,400 pairs, the
# preset's rates) on the old training data and on the new, three seeds each, both without the selection fold,
# on a lent GPU in one call; the final weights come back and bench/selection.py decides here.
#   run(command="OUT=$OUT bash scripts/gpu_data_gain.sh", carry=[".gpu/pack.tgz"], timeout_s=400)
# .gpu/pack.tgz as scripts/gpu_siamfc_sweep.sh's header says (the 53 training sequences outside the fold and the
# still sets without bees). "Old" is the same pack without what ../shared/data's train gained in session 6: its
# 12 new sequences and the playing-card and dog stills (a second pack.json over the same crops, made there).
# Output: $OUT/gain.tgz.part-* (each run's final siamfc_vggm.safetensors, metrics.csv, config.yaml and log).
# Then here: cat gain.tgz.part-* | tar xz, and for each run
#   bench/selection.py --tracker siamfc --base-set precision=fp32 --set precision=fp32 \
#       --candidate-weights runs/gain/NAME/siamfc_vggm.safetensors --out runs/select_siamfc --reference
# WITH_FOLD=1 (carry .gpu/packfold.tgz too: twintrack precrop --data <the 8 fold sequences> --out .gpu/packfold
# --quality 60 --max-frames 120, tar czf .gpu/packfold.tgz -C .gpu packfold; 2.8 MB) adds the fold to both, as the
# shipped weights were trained (runs named newfold_s*, oldfold_s*): old + fold is the shipped weights' own data.
# DATASETS picks the data sets (default "new old"). "newseq_oldstills" (the 12 new sequences, without the
# playing-card and dog stills) and "oldseq_newstills" (the reverse) isolate which addition makes MountainBike6
# collapse in every new-data run (docs/selection.md, session 8): DATASETS="newseq_oldstills oldseq_newstills".
# SMOKE=1 runs the same steps tiny on this CPU.
# shellcheck source=scripts/gpu_prelude.sh
source "$(dirname "$0")/gpu_prelude.sh"
if [ "${SMOKE:-0}" = 1 ]; then
    DEVICE=cpu; PY=${PY:-.venv/bin/python}
    COMMON="epochs=1 pairs_per_epoch=16 workers=0 max_minutes=1"
else
    DEVICE=cuda; PY=python3
    COMMON="workers=2 max_minutes=${MAX_MINUTES:-4}"
fi
export PYTHONPATH=$REPO
tar xzf .gpu/pack.tgz -C "$WORK/data" || exit 1
EXTRA=(); SUFFIX=""
if [ "${WITH_FOLD:-0}" = 1 ]; then
    tar xzf .gpu/packfold.tgz -C "$WORK/data" || exit 1
    EXTRA=("$WORK/data/packfold"); SUFFIX=fold
fi
"$PY" - "$WORK/data" <<'PYEOF' || exit 1
import json, os, shutil, sys
from pathlib import Path

data = Path(sys.argv[1])
new_sequences = {"otb_Car1", "otb_Car4", "tlp_Bike", "tlp_CarChase2", "tlp_Drone1", "tlp_Mohiniyattam",
                 "tlp_MotorcycleChase", "uav123_car10", "uav123_person12_1", "uav123_snowboarding4", "uav123_truck4",
                 "vot15_car1"}
index = json.loads((data / "pack" / "pack.json").read_text())
def is_new_sequence(entry):
    return not entry["still"] and entry["name"] in new_sequences
def is_new_still(entry):
    return entry["still"] and entry["name"].startswith(("playing_cards", "voc_dogs"))
# Each derived pack is a second pack.json over the same crops (symlinked folders), without what it leaves out.
leave_out = {"old": lambda e: is_new_sequence(e) or is_new_still(e),
             "newseq_oldstills": is_new_still, "oldseq_newstills": is_new_sequence}
print(f"new pack: {len(index['sequences'])} entries")
for name, left_out in leave_out.items():
    kept = [entry for entry in index["sequences"] if not left_out(entry)]
    shutil.rmtree(data / f"pack_{name}", ignore_errors=True)  # a warm machine keeps $WORK between calls
    (data / f"pack_{name}").mkdir()
    for folder in {f.split("/")[0] for entry in kept for f in entry["files"]}:
        os.symlink(data / "pack" / folder, data / f"pack_{name}" / folder)
    (data / f"pack_{name}" / "pack.json").write_text(json.dumps(dict(index, sequences=kept)))
    videos = sum(not e["still"] for e in kept)
    print(f"{name} pack: {videos} sequences, {len(kept) - videos} still boxes")
PYEOF
nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null
RUNS=$WORK/runs/gain
mkdir -p "$RUNS"
for data in ${DATASETS:-new old}; do
    pack=$WORK/data/pack; [ "$data" != new ] && pack=$WORK/data/pack_$data
    for seed in 0 1 2; do
        name=$data${SUFFIX}_s$seed
        # shellcheck disable=SC2086  # the overrides are separate key=value words
        $PY -m twintrack train siamfc --data "$pack" "${EXTRA[@]}" --out "$RUNS/$name" --device $DEVICE $COMMON \
            seed=$seed >"$RUNS/$name.log" 2>&1 &
    done
done
wait
summarize_runs "$RUNS"
echo "== results ($(elapsed) s)"
bring_back "$WORK/runs" gain --exclude=tb
echo "done in $(elapsed) s"
