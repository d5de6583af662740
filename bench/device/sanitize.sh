#!/usr/bin/env bash
# One prepared device call: the fused kernels under compute-sanitizer (issue bar: memcheck and
# racecheck clean). Runs there through the device pack:
#   bash .device/run.sh shell 'bash bench/device/sanitize.sh'
# with carry [".device"]; run.sh exports JAVA, CP and JAVA_OPTS. Logs land in $OUT.
#
# Each tool runs the JUnit class FusedKernelsGpuTest (every fused kernel forward and backward on
# small random cases, plus a BERT layer on both paths) in a JVM that compute-sanitizer follows
# (--target-processes all). The JVM's own signals and JIT do not touch CUDA, so any report is
# about Solder's kernels or its calls. SOLDER_SANITIZE_TESTS picks other classes (comma list).
set -u
out=${OUT:-/tmp/solder-out}
mkdir -p "$out"
limit=${SOLDER_SANITIZE_TIMEOUT:-200}
classes=${SOLDER_SANITIZE_TESTS:-dev.solder.backend.cuda.FusedKernelsGpuTest}
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -z "$san" ]; then
  echo "compute-sanitizer not found (PATH, /usr/local/cuda/bin): nothing checked"
  exit 2
fi
# Under the gVisor sandbox (its kernel reports 4.4.0) compute-sanitizer refuses the device ("Device
# not supported", then error 999): say so instead of spending two timeouts on it. In a full VM it
# works.
if [ "$(uname -r)" = "4.4.0" ]; then
  echo "gVisor runtime (uname -r 4.4.0): compute-sanitizer cannot instrument this device; nothing checked"
  exit 3
fi
select=()
for c in ${classes//,/ }; do
  select+=(--select-class "$c")
done
rc=0
for tool in memcheck racecheck; do
  echo "== $tool (limit ${limit}s): ${classes}"
  timeout "$limit" "$san" --tool "$tool" --target-processes all --error-exitcode 99 --print-limit 50 \
    "$JAVA" $JAVA_OPTS -jar .device/console.jar execute --class-path "$CP" "${select[@]}" \
    --details=tree --details-theme=ascii --reports-dir "$out/junit-$tool" > "$out/sanitize-$tool.log" 2>&1
  r=$?
  echo "$tool exit $r (99: the sanitizer reported errors; 124: timed out)"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Invalid|Race|hazard|tests (successful|failed|aborted)" \
    "$out/sanitize-$tool.log" | head -30
  [ "$r" -ne 0 ] && rc=$r
done
exit $rc
