#!/usr/bin/env bash
# docs/figures/*.html from runs/repro (hodiff report: self-contained HTML, inline SVG charts)
set -eu
cd "$(dirname "$0")/../.."
R=runs/repro
H="node packages/cli/bin/hodiff.mjs report"
mkdir -p docs/figures
$H $R/f-ns-s0 $R/f-ns-s1 $R/f-ns-s2 $R/f-adam-s0 $R/f-adam-s1 $R/f-adam-s2 \
  --title "MLP/MNIST, full training set, 5 epochs: NewtonSummary λ 0.03 vs Adam 1e-3 (3 seeds)" --out docs/figures/fig2-mlp-mnist.html
$H $R/s-ns-canonical $R/s-ns-trivial $R/s-ns-weights-biases $R/s-ns-blocks-2 $R/s-ns-alternate-2 $R/s-ns-diagonal \
  --title "MLP/MNIST 5k, 2 epochs: NewtonSummary partitions (Table 4) and diagonal H̄ (App. K)" --out docs/figures/table4-appk-mlp-5k.html
$H $R/m-ns-10k $R/m-adam-10k $R/m-kfac-10k $R/s-ns-canonical $R/s-adam-1e-3 $R/s-adam-3e-4 $R/s-adam-3e-3 $R/s-kfac \
  --title "MLP/MNIST 5k/10k, 2 epochs: NewtonSummary vs Adam vs K-FAC" --out docs/figures/kfac-mlp-small.html
$H $R/l-ns-fixed $R/l-adam $R/l-ns-cpu $R/l-ns $R/d-lenet-ns-wasm $R/d-lenet-ns-cpu \
  --title "LeNet-5/CIFAR-10 subsets: NewtonSummary vs Adam (l-ns and d-lenet-ns-wasm: wasm before the rank-7 fix, diverged)" --out docs/figures/lenet-cifar10.html
