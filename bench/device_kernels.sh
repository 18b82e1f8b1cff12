#!/usr/bin/env bash
# One device call for the kernels: GPU tests, correctness vs the fp64 reference, the model's GPU-vs-CPU logits, then the
# timing table (bench/lightning_gpu.py). Run from the repo root on the lent GPU with `.whl/kernels` carried (fla-core
# 0.6.0: `pip download --no-deps --only-binary=:all: -d .whl/kernels fla-core==0.6.0`; .whl/ is git-ignored).
# NCU=1 adds Nsight Compute counters for one bf16 prefill at the end (NCU_ARGS: extra KEY=VALUE for lightning_ncu.py;
# several profiles: separate their argument sets by ';'; NCU_CASE: the case, default "bf16 16384 64"; NCU_METRICS:
# sets of comma-separated metrics, the sets separated by spaces, collected instead of the sections). SMOKE_FOLD_WS=0 skips the fp32 fold-ws smoke (and turns that kernel off for the call). SKIP_TESTS=1 skips the pytest step (the bench's correctness section still runs first); TEST_TIMEOUT and BENCH_TIMEOUT (seconds) bound those steps; PYTEST_K selects tests (pytest -k). Extra arguments go to bench/lightning_gpu.py (e.g. --variants, --quick). Logs land in $OUT (default out/device).
set -o pipefail
OUT=${OUT:-out/device}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
{ nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu --format=csv
  python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'; } | tee "$OUT/env.txt"
if ls .whl/kernels/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/kernels/*.whl && export PYTHONPATH=$PWD:/tmp/site
fi
python3 -c 'import fla; print("fla", fla.__version__)' 2>&1 | tee -a "$OUT/env.txt"
# SM clock and power every 0.5 s for the whole call (the card can sit at its power limit and lower the clock, which a
# latency-bound kernel follows; bench/NOTES-kernels.md, run H5): the sweep and table lines carry unix times to match
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_event_reasons.active --format=csv,nounits \
  -lms 500 > "$OUT/clocks.csv" 2>&1 &
CLOCK_PID=$!
# the warp-partitioned Gluon kernel first, alone, under a timeout: a hang or a wrong result turns it off (LIGHTNING_WS=0)
# for the rest of the call, so the other numbers still come back
if [ "${LIGHTNING_WS:-1}" != 0 ]; then
  timeout 180 python3 bench/lightning_gpu.py --smoke-ws 2>&1 | tee "$OUT/smoke_ws.log" \
    || { echo "SMOKE FAILED: the default schedule; trying the previous one (LIGHTNING_WS_MODE=noprep)"
         export LIGHTNING_WS_MODE=noprep
         timeout 120 python3 bench/lightning_gpu.py --smoke-ws 2>&1 | tee -a "$OUT/smoke_ws.log" \
           || { echo "SMOKE FAILED: lightning_prefill_ws off for this call (LIGHTNING_WS=0)"; export LIGHTNING_WS=0; }; }
fi
# the schedules not yet measured (SMOKE_NEW, e.g. noprep,plain) in their own process: a failure or hang only
# drops them from the correctness section (LIGHTNING_WS_NEW=0); their sweep lines then fail on their own
if [ "${LIGHTNING_WS:-1}" != 0 ] && [ -n "${SMOKE_NEW:-}" ]; then
  timeout 120 python3 bench/lightning_gpu.py --smoke-ws --smoke-modes "$SMOKE_NEW" 2>&1 | tee -a "$OUT/smoke_ws.log" \
    || { echo "SMOKE FAILED for $SMOKE_NEW (LIGHTNING_WS_NEW=0)"; export LIGHTNING_WS_NEW=0; }
fi
# the warp-partitioned fp32 fold kernel (the fp32 default on Hopper) in its own process: a failure or hang turns it
# off for the rest of the call (LIGHTNING_FOLD_WS=0: the one-warpgroup fold kernel is the default again) and keeps it
# out of the correctness section, the sweep and the table (LIGHTNING_FOLD_WS_OK=0)
if [ "${SMOKE_FOLD_WS:-1}" != 0 ] && [ "${LIGHTNING_FOLD_WS:-1}" != 0 ]; then
  timeout 100 python3 bench/lightning_gpu.py --smoke-fold-ws 2>&1 | tee -a "$OUT/smoke_ws.log" \
    || { echo "SMOKE FAILED: lightning_prefill_fold_ws off for this call (LIGHTNING_FOLD_WS=0)"
         export LIGHTNING_FOLD_WS=0 LIGHTNING_FOLD_WS_OK=0; }
else
  export LIGHTNING_FOLD_WS=0 LIGHTNING_FOLD_WS_OK=0
fi
[ "${SKIP_TESTS:-0}" = 1 ] || timeout "${TEST_TIMEOUT:-300}" python3 -m pytest tests/test_kernels_gpu.py \
  tests/test_kernels_dispatch.py tests/test_kernels_args.py -q -p no:cacheprovider ${PYTEST_K:+-k "$PYTEST_K"} 2>&1 \
  | tee "$OUT/pytest.log" | tail -n 15
timeout "${BENCH_TIMEOUT:-900}" python3 bench/lightning_gpu.py --json "$OUT/lightning_gpu.json" "$@" 2>&1 \
  | tee "$OUT/bench.log"
echo "bench exit $?"
if [ "${NCU:-0}" = 1 ]; then  # counters for bf16 prefill (T=16K, H=64): SM/DRAM throughput, stalls, gmma pipe
  N="ncu --clock-control none -k regex:prefill --launch-skip 1 --launch-count 1"
  IFS=';' read -ra SETS <<< "${NCU_ARGS:-}"
  CASE=${NCU_CASE:-bf16 16384 64}
  for A in "${SETS[@]:-}"; do
    echo "=== ncu: lightning_ncu.py $CASE $A"
    if [ -n "${NCU_METRICS:-}" ]; then  # one ncu run a set: a name this ncu lacks loses only its own set
      for M in $NCU_METRICS; do timeout 120 $N --metrics "$M" python3 bench/lightning_ncu.py $CASE $A; done
      continue
    fi
    timeout 90 $N --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats --section Occupancy \
      --section SchedulerStats --section MemoryWorkloadAnalysis --section SourceCounters \
      python3 bench/lightning_ncu.py $CASE $A
    timeout 40 $N --metrics sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed \
      python3 bench/lightning_ncu.py $CASE $A
  done > "$OUT/ncu_bf16.txt" 2>&1
  grep -E "=== ncu|Duration|DRAM Throughput|Compute \(SM\)|Issue Slots Busy|No Eligible|gmma|dram__|l1tex__|lts__|sm__|gpu__|smsp__|ERR" "$OUT/ncu_bf16.txt"
fi
kill "$CLOCK_PID" 2>/dev/null
