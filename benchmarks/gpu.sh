#!/usr/bin/env bash
# GPU checks and benchmarks in one command, for a GPU lent for minutes: the
# test modules that exercise the kernels, the model and the three inference
# methods run on the GPU, then the benchmarks whose GPU figures the README
# gives. Each step has its own time limit, so one slow step cannot take the
# others' time; a step stopped at its limit is interrupted (SIGINT), so pytest
# still lists the failures so far. Everything is logged to OUTDIR/gpu.log.
#
#   bash benchmarks/gpu.sh OUTDIR
#
# Environment: PYTHON (default python3); PLATFORM (default cuda; cpu dry-runs
# the script); STEPS (default "tests fit_speed kernels scale"); per step a
# limit in seconds, TESTS_S (300), FIT_S (220), KERNELS_S (70), SCALE_S (200);
# extra arguments FIT_ARGS, KERNEL_ARGS, SCALE_ARGS. On an H200 (session 4)
# the tests took about 300 s (most of it compiling), fit_speed 176 s, kernels
# 52 s: the four steps do not fit in one 10-minute call, so split STEPS.
set -u
OUTDIR=${1:?usage: bash benchmarks/gpu.sh OUTDIR}
mkdir -p "$OUTDIR"
PY=${PYTHON:-python3}
PLATFORM=${PLATFORM:-cuda}
TAG=${PLATFORM/cuda/gpu}  # file names as the benchmarks' defaults: *_gpu.json
LOG="$OUTDIR/gpu.log"
export PYTHONUNBUFFERED=1 JAX_PLATFORMS=$PLATFORM

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2 t0
    shift 2
    echo "== $name (limit ${limit} s): $*" | tee -a "$LOG"
    t0=$(date +%s)
    timeout -s INT -k 15 "$limit" "$@" >>"$LOG" 2>&1
    echo "== $name: exit $? after $(($(date +%s) - t0)) s" | tee -a "$LOG"
}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
    "$PY" -c "import jax, numpyro, optax; print('jax', jax.__version__, 'numpyro', numpyro.__version__, 'optax', optax.__version__, jax.devices())"
} >>"$LOG" 2>&1

for s in ${STEPS:-tests fit_speed kernels scale}; do
    case $s in
    tests)  # the CPU suite's assertions, on the GPU in float32
        step tests "${TESTS_S:-300}" "$PY" -m pytest -q -rf -p no:cacheprovider \
            tests/transforms tests/models tests/inference/test_fit.py tests/diagnostics/test_metrics.py ;;
    fit_speed)  # one device, so the four chains are vectorised
        step fit_speed "${FIT_S:-220}" "$PY" benchmarks/fit_speed.py --chain-method vectorized \
            --out "$OUTDIR/fit_speed_$TAG.json" ${FIT_ARGS:-} ;;
    kernels)
        step kernels "${KERNELS_S:-70}" "$PY" benchmarks/kernels.py --budget 0.2 \
            --out "$OUTDIR/kernels_$TAG.json" ${KERNEL_ARGS:-} ;;
    scale)
        step scale "${SCALE_S:-200}" "$PY" benchmarks/scale.py --methods svi --svi-steps 2000 \
            --geos 1,10,50,200,1000 --max-seconds 40 --chain-method vectorized \
            --out "$OUTDIR/scale_$TAG.json" ${SCALE_ARGS:-} ;;
    *) echo "unknown step: $s" | tee -a "$LOG" ;;
    esac
done
grep -E "^== |passed|failed|^FAILED|ESS/s ratio|NUTS (cold|warm)" "$LOG"
