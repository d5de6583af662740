#!/usr/bin/env bash
# Builds a stand-in for the MNLI notebook's data, for timing the seed run where MNLI itself is
# not available: pairs with MNLI's shape made from MRPC's sentences.
#
#   bench/mnli-proxy.sh ../shared/data/glue/MRPC /tmp/mnli-proxy
#   ./solder finetune --task jsonl --train-file /tmp/mnli-proxy/train.jsonl \
#       --validation-file /tmp/mnli-proxy/dev.jsonl --text-a-column premise \
#       --text-b-column hypothesis --label-column label
#
# MNLI premises average about 22 words and hypotheses about half that (Williams et al. 2018,
# MultiNLI's corpus statistics); MRPC's sentences average about 22 words too. So a premise is
# MRPC's first sentence and a hypothesis the first half of the words of its second sentence.
# Rows 1-1000 of MRPC's train.tsv become the 1,000 training pairs and rows 1001-2000 the 1,000
# evaluation pairs, as many as the notebook's. Labels are MRPC's (paraphrase or not), so the
# run still learns something, but its accuracy says nothing about MNLI: only the time counts.
set -euo pipefail
src=${1:?usage: bench/mnli-proxy.sh MRPC_DIR OUT_DIR}
out=${2:?usage: bench/mnli-proxy.sh MRPC_DIR OUT_DIR}
[ -f "$src/train.tsv" ] || { echo "mnli-proxy: no train.tsv in $src (a GLUE MRPC folder)" >&2; exit 1; }
mkdir -p "$out"
awk -F'\t' -v train="$out/train.jsonl" -v dev="$out/dev.jsonl" '
  function esc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return s }
  NR == 1 { next }                                   # header
  NF != 5 { printf "mnli-proxy: line %d has %d columns, expected 5\n", NR, NF > "/dev/stderr"; exit 1 }
  {
    row = NR - 1
    if (row > 2000) exit
    n = split($5, w, " ")
    h = w[1]
    for (i = 2; i <= int((n + 1) / 2); i++) h = h " " w[i]
    line = sprintf("{\"premise\": \"%s\", \"hypothesis\": \"%s\", \"label\": \"%s\"}", esc($4), esc(h), $1 == "1" ? "paraphrase" : "other")
    print line > (row <= 1000 ? train : dev)
  }' "$src/train.tsv"
wc -l "$out/train.jsonl" "$out/dev.jsonl"
