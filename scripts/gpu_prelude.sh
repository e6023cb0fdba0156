# The shared start of the one-shot lent-GPU scripts (gpu_session.sh, gpu_siamfc_sweep.sh), sourced by them: strict
# mode, the repository as the working folder, $OUT for results and $WORK for scratch, and a clock for the log.
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
