#!/usr/bin/env bash
# The CUDA tests (`pytest -m gpu`; they skip on a machine without CUDA), with the machine's GPU and versions.
#
#   bash scripts/gpu_tests.sh [OUT]      # from anywhere; OUT: results folder (default runs/gpu_tests)
#
# Writes OUT/gpu_tests.txt (the GPU, torch and CUDA versions, then pytest's report) and exits with pytest's status.
# PYTHON names the interpreter (default: python). Needs neither the data folder nor a network.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${1:-runs/gpu_tests}
PYTHON=${PYTHON:-python}
mkdir -p "$OUT"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
    "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
    # --continue-on-collection-errors: a module that imports an optional package this machine lacks (got10k) must
    # not stop the collection of the others.
    "$PYTHON" -m pytest -m gpu -q -p no:cacheprovider -rs --continue-on-collection-errors tests
} >"$OUT/gpu_tests.txt" 2>&1
status=$?
tail -n 25 "$OUT/gpu_tests.txt"
echo "pytest exit status $status; report in $OUT/gpu_tests.txt"
exit $status
