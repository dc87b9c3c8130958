#!/usr/bin/env bash
# The speed tables of the README in one sitting: hodiff (pnpm bench grad/summaries/jit-grad/dispatch,
# models with threads 1 and 2, elementwise) and
# PyTorch (bench/peers/models_torch.py, ../shared/peers/mlp_torch.py) and JAX (bench/peers/summaries_jax.py)
# back to back, so both see
# the same machine load. Usage: bash bench/peers/sitting.sh > bench/results/DATE-sitting.txt
cd "$(dirname "$0")/../.."
SHARED=${SHARED:-../shared} # the peers folder lives beside the repository
PY=${PY:-$(bash "$SHARED/peers/setup.sh")}
echo "# start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "\$ npx tsx bench/run.ts grad summaries jit-grad dispatch"
npx tsx bench/run.ts grad summaries jit-grad dispatch
echo "\$ npx tsx bench/run.ts models --models mlp,lenet --simd compare"
npx tsx bench/run.ts models --models mlp,lenet --simd compare
echo "\$ python bench/peers/models_torch.py --threads 1 --models mlp,lenet"
$PY bench/peers/models_torch.py --threads 1 --models mlp,lenet
echo "\$ python ../shared/peers/mlp_torch.py --threads 1"
$PY "$SHARED/peers/mlp_torch.py" --threads 1
echo "\$ python bench/peers/summaries_jax.py --threads 1"
$PY bench/peers/summaries_jax.py --threads 1
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "\$ npx tsx bench/run.ts models --models vgg11,bigmlp --simd compare"
npx tsx bench/run.ts models --models vgg11,bigmlp --simd compare
echo "\$ python bench/peers/models_torch.py --threads 1 --models vgg11,bigmlp"
$PY bench/peers/models_torch.py --threads 1 --models vgg11,bigmlp
echo "\$ npx tsx bench/run.ts elementwise --repeats 25"
npx tsx bench/run.ts elementwise --repeats 25
echo "\$ python bench/peers/models_torch.py --threads 2 --models mlp,lenet"
$PY bench/peers/models_torch.py --threads 2 --models mlp,lenet
echo "# end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
