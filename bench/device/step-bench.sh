#!/usr/bin/env bash
# BERT-Base training step, Solder (dev.solder.bench.BertTrainStep) against PyTorch + transformers
# (bench/python/bert_step.py), same shapes, same machine, one call. Runs on the device machine
# through the device pack:  bash .device/run.sh shell 'bash bench/device/step-bench.sh'
# (run.sh exports JAVA, CP and JAVA_OPTS). Prints one line per (implementation, shape, precision).
# Both sides warm up for 150 steps: Solder's host side (every op's Java code) runs interpreted
# and then C1-compiled for its first steps; under the dry run on a 2-core machine it took ~100
# steps to fall from ~20 ms to ~5 ms a step and several hundred more to reach ~1.5 ms
# (bench/README.md, "host side of a GPU step"). PyTorch gets the same warm-up.
set -u
W="--steps 50 --warmup 150"
for shape in "32 128" "8 64"; do
  set -- $shape
  for prec in bf16 fp32; do
    timeout 150 "$JAVA" $JAVA_OPTS -cp "$CP" dev.solder.bench.BertTrainStep --device cuda --batch "$1" --seq "$2" \
      $W --precision "$prec" 2>&1 | grep -E "^(BERT step|mean)" | tr '\n' ' '; echo
    timeout 150 python3 bench/python/bert_step.py --device cuda --batch "$1" --seq "$2" $W \
      --precision "$prec" 2>&1 | tail -1
  done
done
# The bf16 step again with every fused kernel forced on (flash attention, multi-tensor AdamW, fused
# LayerNorm): what validating them would buy.
timeout 150 "$JAVA" $JAVA_OPTS -Dsolder.kernels=fused -cp "$CP" dev.solder.bench.BertTrainStep --device cuda \
  --batch 32 --seq 128 $W --precision bf16 2>&1 | grep -E "^(BERT step|mean)" | tr '\n' ' '
echo "(-Dsolder.kernels=fused)"
# The same fused bf16 step casting every weight before each forward, as before the kept copies
# (CastCache): the difference to the line above is what keeping them saves.
timeout 150 "$JAVA" $JAVA_OPTS -Dsolder.kernels=fused -Dsolder.autocast.cacheWeights=false -cp "$CP" \
  dev.solder.bench.BertTrainStep --device cuda --batch 32 --seq 128 $W --precision bf16 2>&1 \
  | grep -E "^(BERT step|mean)" | tr '\n' ' '
echo "(-Dsolder.kernels=fused -Dsolder.autocast.cacheWeights=false)"
# The same fused bf16 step with freed device blocks kept for reuse (BlockCache) instead of a
# cuMemAllocAsync/cuMemFreeAsync pair per tensor (~1,100 allocations a step at 32 x 128 under the
# dry run): the difference to the -Dsolder.kernels=fused line is what the driver calls cost.
timeout 150 "$JAVA" $JAVA_OPTS -Dsolder.kernels=fused -Dsolder.cuda.cacheFreed=true -cp "$CP" \
  dev.solder.bench.BertTrainStep --device cuda --batch 32 --seq 128 $W --precision bf16 2>&1 \
  | grep -E "^(BERT step|mean)" | tr '\n' ' '
echo "(-Dsolder.kernels=fused -Dsolder.cuda.cacheFreed=true)"
