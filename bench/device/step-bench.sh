#!/usr/bin/env bash
# BERT-Base training step, Solder (dev.solder.bench.BertTrainStep) against PyTorch + transformers
# (bench/python/bert_step.py), same shapes, same machine, one call. Runs on the device machine
# through the device pack:  bash .device/run.sh shell 'bash bench/device/step-bench.sh'
# (run.sh exports JAVA, CP and JAVA_OPTS). Prints one line per (implementation, shape, precision);
# every run's whole output (stack traces included) goes to $OUT/step-full.log.
# Both sides warm up for 150 steps: Solder's host side (every op's Java code) runs interpreted
# and then C1-compiled for its first steps; under the dry run on a 2-core machine it took ~100
# steps to fall from ~20 ms to ~5 ms a step and several hundred more to reach ~1.5 ms
# (bench/README.md, "host side of a GPU step"). PyTorch gets the same warm-up.
#
# Order: the issue's bar first (bf16, 32 x 128: Solder's default path, PyTorch, Solder's fused
# path), then what the time budget (STEP_BENCH_BUDGET_S, default 360 s) leaves room for: fp32,
# 8 x 64, and the fused step without the kept weight casts and with the block cache. A run is
# started only when the budget still holds a whole run's limit (RUN_LIMIT_S, default 120 s).
set -u
out=${OUT:-/tmp/solder-out}
mkdir -p "$out"
log="$out/step-full.log"
budget=${STEP_BENCH_BUDGET_S:-360}
limit=${RUN_LIMIT_S:-120}
W="--steps 50 --warmup 150"

fits() {
  if [ $((SECONDS + limit)) -gt "$budget" ]; then
    echo "(skipped, budget ${budget}s: $*)"
    return 1
  fi
}

# Solder: prints "BERT step ..." and "mean ..." lines; NAME and extra JVM flags first.
solder() {
  local label=$1 batch=$2 seq=$3 prec=$4; shift 4
  fits "solder $label $batch x $seq $prec" || return 0
  echo "== solder $label $batch x $seq $prec $*" >> "$log"
  timeout "$limit" "$JAVA" $JAVA_OPTS "$@" -cp "$CP" dev.solder.bench.BertTrainStep --device cuda --batch "$batch" \
    --seq "$seq" $W --precision "$prec" 2>&1 | tee -a "$log" | grep -E "^(BERT step|mean)" | tr '\n' ' '
  echo "[$label, exit ${PIPESTATUS[0]}]"
}

# PyTorch without the toolkit's libraries that run.sh puts on LD_LIBRARY_PATH for Java: torch
# loads the cuBLAS and cuDNN of its own wheels, as a Python user's run does.
torch_step() {
  local batch=$1 seq=$2 prec=$3
  fits "torch $batch x $seq $prec" || return 0
  echo "== torch $batch x $seq $prec" >> "$log"
  timeout "$limit" env -u LD_LIBRARY_PATH PYTHONUNBUFFERED=1 python3 bench/python/bert_step.py --device cuda --batch "$batch" \
    --seq "$seq" $W --precision "$prec" 2>&1 | tee -a "$log" | tail -1
}

# the bar's pair and the fused step, kept to compute the ratios below
s_default=$(solder default 32 128 bf16); echo "$s_default"
t_bf16=$(torch_step 32 128 bf16); echo "$t_bf16"
# every fused kernel forced on (flash attention, multi-tensor AdamW, fused LayerNorms): what
# validating them would buy
s_fused=$(solder fused 32 128 bf16 -Dsolder.kernels=fused); echo "$s_fused"
# samples/s and peak MiB out of a line; empty when the run printed none
rate() { grep -oE '[0-9.]+ samples/s' <<<"$1" | head -1 | cut -d' ' -f1; }
peak() { grep -oE 'memory [0-9.]+ MiB' <<<"$1" | head -1 | cut -d' ' -f2; }
for s_line in "$s_default" "$s_fused"; do
  sr=$(rate "$s_line"); tr_=$(rate "$t_bf16"); sp=$(peak "$s_line"); tp=$(peak "$t_bf16")
  label=$(grep -oE '\[[a-z-]+,' <<<"$s_line" | tr -d '[,')
  if [ -n "$sr" ] && [ -n "$tr_" ]; then
    awk -v s="$sr" -v t="$tr_" -v sp="$sp" -v tp="$tp" -v l="$label" 'BEGIN {
      printf "bar, bf16 32 x 128, solder %s: %.0f samples/s (bar >= 5000), %.2fx torch (bar >= 1.3), peak %s MiB vs torch %s MiB (bar: no higher)\n", l, s, s / t, sp, tp }'
  else
    echo "bar, bf16 32 x 128, solder ${label:-?}: not computed (a run printed no samples/s; see step-full.log)"
  fi
done
solder default 32 128 fp32
torch_step 32 128 fp32
solder default 8 64 bf16
torch_step 8 64 bf16
# the fused bf16 step casting every weight before each forward, as before the kept copies
# (CastCache): the difference to the fused line is what keeping them saves
solder fused-nocache 32 128 bf16 -Dsolder.kernels=fused -Dsolder.autocast.cacheWeights=false
# freed device blocks kept for reuse (BlockCache) instead of a cuMemAllocAsync/cuMemFreeAsync pair
# per tensor: the difference to the fused line is what the driver calls cost
solder fused-blockcache 32 128 bf16 -Dsolder.kernels=fused -Dsolder.cuda.cacheFreed=true
solder default 8 64 fp32
torch_step 8 64 fp32
echo "step bench: ${SECONDS}s"
