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
$H $R/l10-ns $R/l10-adam $R/l10-kfac $R/l10-ns-diag $R/l10-sgd docs/figures/fig1/* \
  --title "LeNet-5/CIFAR-10, 10k, 8 epochs: NewtonSummary (full and diagonal H̄) vs Adam vs K-FAC vs SGD; Fig. 1 maps" --out docs/figures/lenet-cifar10-10k.html
$H $R/f-kfac-s0 $R/f-kfac-s1 $R/f-kfac-s2 $R/f-ns-s0 $R/f-ns-s1 $R/f-ns-s2 $R/f-adam-s0 $R/f-adam-s1 $R/f-adam-s2 \
  --title "MLP/MNIST, full training set: K-FAC (2 epochs) vs NewtonSummary and Adam (5 epochs), 3 seeds each" --out docs/figures/fig2-mlp-mnist-kfac.html
extra=""
for r in b-ns b-adam v-ns v-adam l10-ns-lam0.1 l10-ns-lam1; do [ -e "$R/$r/metrics.jsonl" ] || continue; extra="$extra $R/$r"; done
[ -n "${extra:-}" ] && $H $extra --title "BigMLP and VGG-11' on CIFAR-10 subsets; NewtonSummary's λ on LeNet" --out docs/figures/big-models-and-lambda.html
true
