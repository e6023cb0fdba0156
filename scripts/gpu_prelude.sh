# The shared start of the one-shot lent-GPU scripts (gpu_lent.sh, gpu_siamfc_sweep.sh, gpu_data_gain.sh,
# gpu_session.sh), sourced by them: strict mode, the repository as the working folder, $OUT for results and $WORK
# for scratch, a clock for the log, and the two steps that end each training call.
# It travels with them, as every tracked file does.
set -u
export PYTHONUNBUFFERED=1
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
OUT=${OUT:-/tmp/gpu_out}
WORK=${WORK:-/tmp/gpu_work}
mkdir -p "$OUT" "$WORK/data"
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }

# Each run's last metrics rows under FOLDER (or the end of its log where it wrote none).
summarize_runs() {
    for run in "$1"/*/; do
        echo "-- $(basename "$run")"; tail -n 3 "$run/metrics.csv" 2>/dev/null || tail -c 400 "${run%/}.log"
    done
}

# bring_back PARENT FOLDER [TAR OPTIONS...]: PARENT/FOLDER as $OUT/FOLDER.tgz.part-* (the device tool returns files
# of at most 16 MiB, 8 in all), without resume checkpoints and unfinished temporary files.
bring_back() {
    local parent=$1 folder=$2
    shift 2
    (cd "$parent" && tar czf "$OUT/$folder.tgz" --exclude=checkpoint.pt --exclude="*.tmp" "$@" "$folder") || return 1
    (cd "$OUT" && split -b 15m "$folder.tgz" "$folder.tgz.part-" && rm "$folder.tgz" && ls -la "$OUT")
}
