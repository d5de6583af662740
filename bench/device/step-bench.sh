#!/usr/bin/env bash
# BERT-Base training step, Solder (dev.solder.bench.BertTrainStep) against PyTorch + transformers
# (bench/python/bert_step.py), same shapes, same machine, one call. Runs on the device machine
# through the device pack:  bash .device/run.sh shell 'bash bench/device/step-bench.sh'
# (run.sh exports JAVA, CP and JAVA_OPTS). Prints one line per (implementation, shape, precision).
set -u
for shape in "32 128" "8 64"; do
  set -- $shape
  for prec in bf16 fp32; do
    timeout 150 "$JAVA" $JAVA_OPTS -cp "$CP" dev.solder.bench.BertTrainStep --device cuda --batch "$1" --seq "$2" \
      --steps 20 --warmup 5 --precision "$prec" 2>&1 | grep -E "^(BERT step|mean)" | tr '\n' ' '; echo
    timeout 150 python3 bench/python/bert_step.py --device cuda --batch "$1" --seq "$2" --steps 20 --warmup 5 \
      --precision "$prec" 2>&1 | tail -1
  done
done
# The bf16 step again with every fused kernel forced on (flash attention, multi-tensor AdamW, fused
# LayerNorm): what validating them would buy.
timeout 150 "$JAVA" $JAVA_OPTS -Dsolder.kernels=fused -cp "$CP" dev.solder.bench.BertTrainStep --device cuda \
  --batch 32 --seq 128 --steps 20 --warmup 5 --precision bf16 2>&1 | grep -E "^(BERT step|mean)" | tr '\n' ' '
echo "(-Dsolder.kernels=fused)"
# The same fused bf16 step casting every weight before each forward, as before the kept copies
# (CastCache): the difference to the line above is what keeping them saves.
timeout 150 "$JAVA" $JAVA_OPTS -Dsolder.kernels=fused -Dsolder.autocast.cacheWeights=false -cp "$CP" \
  dev.solder.bench.BertTrainStep --device cuda --batch 32 --seq 128 --steps 20 --warmup 5 --precision bf16 2>&1 \
  | grep -E "^(BERT step|mean)" | tr '\n' ' '
echo "(-Dsolder.kernels=fused -Dsolder.autocast.cacheWeights=false)"
