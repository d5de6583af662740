#!/usr/bin/env bash
# One prepared device call: everything Solder checks on a lent GPU machine.
# Runs there through the device pack (bash bench/device/prepare.sh here, then
#   bash .device/run.sh shell 'bash bench/device/validate.sh'
# with carry [".device"]); run.sh exports JAVA, CP and JAVA_OPTS. Logs land in $OUT.
#   1. every JUnit test tagged "gpu" (native bindings, CUDA backend vs CPU, fused kernels)
#   2. models saved by Solder load in Hugging Face transformers with the same outputs
#      (.device/hf-check holds directories written by dev.solder.bert.ExportCheck)
#   3. the fused-kernel microbenchmarks and their PyTorch peers, when present
set -u
out=${OUT:-/tmp/solder-out}
mkdir -p "$out"
limit=${SOLDER_GPU_TEST_TIMEOUT:-240}

echo "== gpu tests (limit ${limit}s)"
timeout "$limit" "$JAVA" $JAVA_OPTS -jar .device/console.jar execute --class-path "$CP" --scan-classpath \
  --include-tag gpu --details=tree --details-theme=ascii --reports-dir "$out/junit" > "$out/gpu-tests.log" 2>&1
echo "gpu tests exit $?"
grep -E "\[X\]|tests (successful|failed|aborted|skipped|found)|containers failed" "$out/gpu-tests.log" | head -60

# Python without the toolkit libraries run.sh puts on LD_LIBRARY_PATH for Java: torch loads the
# cuBLAS and cuDNN of its own wheels, as a Python user's run does.
py() { env -u LD_LIBRARY_PATH PYTHONUNBUFFERED=1 python3 "$@"; }
if [ ! -d .device/hf-check ]; then
  echo "== transformers load check skipped: no .device/hf-check (bench/device/prepare.sh writes it)"
elif ! py -c "import torch, transformers" 2>/dev/null; then
  echo "== transformers load check skipped: python3 cannot import torch and transformers"
else
  echo "== transformers load check"
  timeout 120 env -u LD_LIBRARY_PATH PYTHONUNBUFFERED=1 python3 bench/python/check_hf_load.py .device/hf-check/* > "$out/hf-load.log" 2>&1
  echo "hf load exit $?"
  tail -25 "$out/hf-load.log"
fi

if [ -f bench/device/fused-bench.sh ]; then
  echo "== fused kernel benchmarks"
  timeout 200 bash bench/device/fused-bench.sh > "$out/fused-bench.log" 2>&1
  echo "fused bench exit $?"
  tail -60 "$out/fused-bench.log"
fi
