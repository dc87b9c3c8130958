#!/usr/bin/env bash
# Paper Fig. 1 (§6.1) on this machine: LeNet-5 trained on CIFAR-10 (10k subset) with SGD + momentum
# (`run.sh fig1-sgd`, a copy of the run after each epoch); H̄ and H̄⁻¹ of the canonical partition along
# the full-batch gradient, in full batch (the 10k examples as 50 batches of 200), at initialisation
# and at the epoch with the best validation loss.
# Writes docs/figures/fig1/<name>/{interaction.json,hbar.svg,hbar-inverse.svg}; wall times in runs/repro/fig1-<name>.time.
set -eu
cd "$(dirname "$0")/../.."
R=runs/repro
F=docs/figures/fig1
FULL="--batch-size 200 --batches 50"
inspect() {
  local name=$1; shift
  rm -rf "${F:?}/$name"
  /usr/bin/time -f %e -o "$R/fig1-$name.time" node packages/cli/bin/hodiff.mjs inspect "$@" --out "$F/$name" >/dev/null
  rm -f "$F/$name"/*.png # the SVGs carry the same picture at a third of the size
  echo "$name: $(cat "$R/fig1-$name.time") s"
}
best=$(python3 -c "
import json
ep = [r for r in map(json.loads, open('$R/l10-sgd/metrics.jsonl')) if r['kind'] == 'epoch']
print(min(ep, key=lambda r: r['val_loss'])['epoch'])")
echo "best validation loss at epoch $best"
inspect lenet-init --model lenet --dataset cifar10 --train-size 10000 --seed 0 $FULL
inspect "lenet-sgd-epoch$best" --checkpoint "$R/l10-sgd-ep$best" --seed 0 $FULL
