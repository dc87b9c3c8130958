#!/usr/bin/env bash
# The speed tables of the README in one sitting, back to back so every line sees the same machine
# load: hodiff (pnpm bench grad/summaries/jit-grad/dispatch; models on tfjs-wasm's GEMM with threads
# 1 and 2; models with @hodiff/native's OpenBLAS GEMM, under OpenBLAS's own kernel choice and under
# this machine's OPENBLAS_CORETYPE; elementwise; conv), PyTorch (bench/peers/models_torch.py,
# ../shared/peers/mlp_torch.py) and JAX (bench/peers/summaries_jax.py).
# Usage: bash bench/peers/sitting.sh > bench/results/DATE-sitting.txt
cd "$(dirname "$0")/../.."
SHARED=${SHARED:-../shared} # the peers folder lives beside the repository
PY=${PY:-$(bash "$SHARED/peers/setup.sh")}
# The environment's OpenBLAS kernel choice (this machine sets OPENBLAS_CORETYPE=Haswell, AVX2);
# "own" lines unset it, so OpenBLAS picks the CPU's own kernels (AVX-512 here).
ENV_CORE="OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
run() {
  echo "\$ $*"
  "$@"
}
echo "# start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
run npx tsx bench/run.ts grad summaries jit-grad dispatch
run npx tsx bench/run.ts models --models mlp,lenet --simd compare
echo "# OpenBLAS's own kernels:"
run env -u OPENBLAS_CORETYPE npx tsx bench/run.ts models --models mlp,lenet --gemm native --threads 1,2
echo "# the environment's $ENV_CORE:"
run npx tsx bench/run.ts models --models mlp,lenet --gemm native --threads 1,2
run "$PY" bench/peers/models_torch.py --threads 1 --models mlp,lenet
run "$PY" "$SHARED/peers/mlp_torch.py" --threads 1
run "$PY" bench/peers/summaries_jax.py --threads 1
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
run npx tsx bench/run.ts models --models vgg11,bigmlp --simd compare
echo "# OpenBLAS's own kernels:"
run env -u OPENBLAS_CORETYPE npx tsx bench/run.ts models --models vgg11,bigmlp --gemm native --blas-threads 1,2
echo "# the environment's $ENV_CORE:"
run npx tsx bench/run.ts models --models vgg11,bigmlp --gemm native --blas-threads 1,2
run "$PY" bench/peers/models_torch.py --threads 1 --models vgg11,bigmlp
run npx tsx bench/run.ts elementwise --repeats 25
run "$PY" bench/peers/models_torch.py --threads 2 --models mlp,lenet
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# OpenBLAS's own kernels:"
run env -u OPENBLAS_CORETYPE npx tsx bench/run.ts conv --models lenet,vgg11 --gemm wasm,native
echo "# end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
