#!/usr/bin/env bash
# A prepared check for a machine with a real GPU (under 5 minutes): webgpu in Node through Dawn's
# Vulkan backend against wasm, one JSON line per model and backend (scripts/gpu-bench.ts):
#   - LeNet-5 gradient / Adam step at batch 100 (goal: webgpu ≥ 5× faster than wasm),
#   - VGG-11' at batch 32: NewtonSummary ÷ Adam update with T = 10 (goal: ≤ 1.3),
#   - the paper MLP's summaries (ḡ, H̄, order-3 diagonal) on webgpu.
# Then the webgpu parity suite on that GPU. Prints the adapter first; fails if Dawn finds none.
#   bash scripts/gpu-check.sh            (env REPEATS=5, MODELS=lenet,vgg11,mlp)
set -euo pipefail
cd "$(dirname "$0")/.."
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
# Dawn loads the Vulkan loader; the GPU's driver provides the ICD (NVIDIA's, or Mesa's for AMD/Intel).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends libvulkan1 >/dev/null || true
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
[ -d node_modules ] || npx -y pnpm@9.15.9 install --frozen-lockfile
# Dawn's default backend only (Vulkan here): no fallback to the software OpenGL ES path.
export HODIFF_WEBGPU_DAWN="${HODIFF_WEBGPU_DAWN:-backend=vulkan}"
npx tsx -e '
  import("@hodiff/core").then(async (hd) => {
    await hd.setBackend("webgpu");
    const a = hd.getWebGpuAdapter();
    console.log(JSON.stringify({ adapter: a }));
    if (a.software) { console.error("gpu-check: the adapter is a software one; no real GPU found"); process.exit(1); }
  });
'
timeout 240 npx tsx scripts/gpu-bench.ts --backends webgpu,wasm --models "${MODELS:-lenet,vgg11,mlp}" --repeats "${REPEATS:-5}"
timeout 60 npx -y pnpm@9.15.9 test:webgpu
