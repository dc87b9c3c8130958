#!/bin/bash
# The pool-native sitting (bench/results/2026-12-06-pool-native.txt): hodiff (wasm/native GEMM × 1/2 JS threads × 1/2 BLAS threads) with
# the environment's OPENBLAS_CORETYPE=Haswell, then with OpenBLAS's own choice, then PyTorch.
cd "$(dirname "$0")/../.."
P="$HOME/.cache/hodiff-peers/bin/python bench/peers/models_torch.py --threads 1 --models mlp,lenet"
torch() { echo "## $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg) nice -n 5 ~/.cache/hodiff-peers/bin/python bench/peers/models_torch.py --threads 1 --models mlp,lenet"; nice -n 5 $P; }
torch
CMD="npx tsx bench/run.ts models --models mlp,lenet --threads 1,2 --gemm wasm,native --blas-threads 1,2"
echo "## $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg) OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE: nice -n 5 $CMD"
nice -n 5 $CMD
echo "## $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg) env -u OPENBLAS_CORETYPE nice -n 5 $CMD"
env -u OPENBLAS_CORETYPE nice -n 5 $CMD
torch
echo "## $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg) end"
