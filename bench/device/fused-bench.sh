#!/usr/bin/env bash
# Fused kernels against their cuBLAS-only twins (Java, CUDA events) and against PyTorch on
# the same card in the same call. Run from bench/device/validate.sh (JAVA, CP, JAVA_OPTS set).
set -u
echo "-- Solder: fused vs cuBLAS-only"
timeout 90 "$JAVA" $JAVA_OPTS -cp "$CP" dev.solder.backend.cuda.FusedKernelBench
echo "-- PyTorch peers"
# without the toolkit libraries run.sh puts on LD_LIBRARY_PATH for Java (torch loads its own wheels'
# cuBLAS and cuDNN, as a Python user's run does); unbuffered, so a timeout keeps what it printed
timeout 90 env -u LD_LIBRARY_PATH PYTHONUNBUFFERED=1 python3 bench/python/fused_peers.py
