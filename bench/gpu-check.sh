#!/usr/bin/env bash
# One script for a short session on a GPU machine: the CUDA tests (with the Triton kernels where Triton
# is installed), `matcalc report --device cuda`,
# the probe oracle at large n and the benchmark, all written under OUTDIR (at most 8.5 minutes: each
# step has a time limit). It needs only what the GPU image has (torch, pytest, pytest-benchmark, tabulate,
# matplotlib): the package runs from this checkout through PYTHONPATH.
#
#   bench/gpu-check.sh OUTDIR                                   # on the GPU machine
#   MATCALC_GPU_CHECK_DEVICE=cpu bench/gpu-check.sh /tmp/dry    # a small dry run of this script
set -uo pipefail
out=${1:?usage: bench/gpu-check.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
DEVICE=${MATCALC_GPU_CHECK_DEVICE:-cuda}
if [ "$DEVICE" = cuda ]; then
    LARGE_N=32768; BENCH_SIZES=(); SEEDS=5
else
    LARGE_N=1024; BENCH_SIZES=(--n 256 --n 512); SEEDS=2
fi

step() {  # name, seconds, command...: run one step with a time limit, record its exit code
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$out/$name.txt" 2>&1
    local rc=$?
    echo "$name rc=$rc seconds=$((SECONDS - t0))" | tee -a "$out/steps.txt"
}

: > "$out/steps.txt"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
step tests 150 env MATCALC_SEEDS=$SEEDS "$PY" -m pytest tests/test_catalog.py tests/test_determinism.py tests/test_fast_triton.py \
    -k "$DEVICE" -q -p no:cacheprovider -o "addopts=-ra"  # no -n: the GPU image has no pytest-xdist
step report 100 "$PY" -m matcalc report --device "$DEVICE" --format markdown --quiet
step large 80 "$PY" -m matcalc large --device "$DEVICE" --n "$LARGE_N" --format markdown
step bench 180 "$PY" -m matcalc bench --device "$DEVICE" "${BENCH_SIZES[@]}" --budget 2 --repeats 3 \
    --json "$out/bench.json" --plot "$out/bench.png" --quiet
"$PY" bench/gpu_summary.py "$out" "$DEVICE" > "$out/summary.md"
cat "$out/summary.md"
