#!/usr/bin/env bash
# Reproduction runs behind docs/results.md. Usage: scripts/repro/run.sh <phase>...
# Each run: runs/repro/<name>/ (metrics.jsonl, config.json), wall time in runs/repro/<name>.time
set -u
cd "$(dirname "$0")/../.."
. scripts/repro/common.sh
SMALL="--model mlp --dataset mnist --train-size 5000 --epochs 2 --seed 0"
for phase in "$@"; do case $phase in
  small)   # Table 4 partitions, App. K diagonal, Adam lr grid: MLP/MNIST, 5000 examples, 2 epochs
    run s-ns-canonical $SMALL --optimizer newton-summary --lr 0.03 --partition canonical
    run s-adam-1e-3    $SMALL --optimizer adam --lr 1e-3
    run s-ns-trivial   $SMALL --optimizer newton-summary --lr 0.03 --partition trivial
    run s-ns-weights-biases $SMALL --optimizer newton-summary --lr 0.03 --partition weights-biases
    run s-ns-blocks-2  $SMALL --optimizer newton-summary --lr 0.03 --partition blocks-2
    run s-ns-alternate-2 $SMALL --optimizer newton-summary --lr 0.03 --partition alternate-2
    run s-ns-diagonal  $SMALL --optimizer newton-summary --lr 0.03 --partition canonical --diagonal
    run s-adam-3e-4    $SMALL --optimizer adam --lr 3e-4
    run s-adam-3e-3    $SMALL --optimizer adam --lr 3e-3 ;;
  full0)   # Fig. 2: full MNIST training set (54k), seed 0
    run f-ns-s0   --model mlp --dataset mnist --epochs ${EPOCHS:-4} --seed 0 --optimizer newton-summary --lr 0.03
    run f-adam-s0 --model mlp --dataset mnist --epochs ${EPOCHS:-4} --seed 0 --optimizer adam --lr ${ADAM_LR:-1e-3} ;;
  lenet)   # LeNet-5 / CIFAR-10, 5000 examples, 2 epochs
    run l-ns   --model lenet --dataset cifar10 --train-size 5000 --epochs 2 --seed 0 --optimizer newton-summary --lr 0.3
    run l-adam --model lenet --dataset cifar10 --train-size 5000 --epochs 2 --seed 0 --optimizer adam --lr 1e-3 ;;
  seeds)
    for s in 1 2; do
      run f-ns-s$s   --model mlp --dataset mnist --epochs ${EPOCHS:-4} --seed $s --optimizer newton-summary --lr 0.03
      run f-adam-s$s --model mlp --dataset mnist --epochs ${EPOCHS:-4} --seed $s --optimizer adam --lr ${ADAM_LR:-1e-3}
    done ;;
  kfac)
    run s-kfac $SMALL --optimizer kfac ;;
  lenet10k)  # Fig. 2 LeNet row with all three optimizers, App. K on LeNet, the checkpoint of Fig. 1
    L="--model lenet --dataset cifar10 --train-size 10000 --epochs ${EPOCHS:-8} --seed 0"
    run l10-ns      $L --optimizer newton-summary --lr 0.3
    run l10-adam    $L --optimizer adam --lr 1e-3
    run l10-ns-diag $L --optimizer newton-summary --lr 0.3 --diagonal
    run l10-kfac    $L --optimizer kfac ;;
  big)  # Table 5 beyond the paper MLP: BigMLP on 5k CIFAR-10 (2 epochs); VGG-11' time per update (1k, 1 epoch)
    B="--model bigmlp --dataset cifar10 --train-size 5000 --epochs 2 --seed 0"
    run b-ns   $B --optimizer newton-summary --lr 0.1
    run b-adam $B --optimizer adam --lr 1e-3
    # VGG-11' does not fit the summaries of B' = 100 in wasm's 4 GiB heap: B' = 25, one direction at a time
    V="--model vgg11 --dataset cifar10 --train-size 1000 --epochs 1 --val-size 1000 --seed 0"
    run v-adam $V --optimizer adam --lr 1e-3
    run v-ns   $V --optimizer newton-summary --lr 0.3 --summary-batch-size 25 --chunk-size 1 ;;
  fig1-sgd)  # paper Fig. 1 protocol: LeNet-5 trained with SGD + momentum; a copy of the run after each epoch
    L="--model lenet --dataset cifar10 --train-size 10000 --seed 0 --optimizer sgd --lr 0.01 --momentum 0.9"
    run l10-sgd $L --epochs 1
    for e in $(seq 1 ${EPOCHS:-8}); do
      if [ ! -e "$R/l10-sgd-ep$e/checkpoint.json" ]; then
        [ "$e" -gt 1 ] && /usr/bin/time -a -f %e -o "$R/l10-sgd.time" node packages/cli/bin/hodiff.mjs train --resume "$R/l10-sgd" --epochs "$e" --no-progress >> "$R/l10-sgd.log" 2>&1
        rm -rf "$R/l10-sgd-ep$e" && cp -r "$R/l10-sgd" "$R/l10-sgd-ep$e"
      fi
    done ;;
  lenet-lambda)  # NewtonSummary's λ on LeNet (10k, 3 epochs): the paper's 0.3 against 0.1 and 1
    L="--model lenet --dataset cifar10 --train-size 10000 --epochs 3 --seed 0 --optimizer newton-summary"
    run l10-ns-lam0.1 $L --lr 0.1
    run l10-ns-lam1   $L --lr 1 ;;
  kfac-full)  # Fig. 2 MLP/MNIST: K-FAC on the full training set, seeds 0, 1, 2
    for s in 0 1 2; do
      run f-kfac-s$s --model mlp --dataset mnist --epochs ${KFAC_EPOCHS:-2} --seed $s --optimizer kfac
    done ;;
  semantics)  # issue 13: LeNet-5/CIFAR-10 on the full 45k training split, NewtonSummary (λ 0.3) with the paper's
    # and the published code's semantics, full and diagonal H̄, against Adam and K-FAC. SEEDS (default
    # "0 1"), EPOCHS (default 2); a run stopped at an earlier epoch is resumed up to EPOCHS.
    for s in ${SEEDS:-0 1}; do
      L="--model lenet --dataset cifar10 --seed $s"
      runto sem-l-ns-paper-s$s      ${EPOCHS:-2} $L --optimizer newton-summary --lr 0.3 --semantics paper
      runto sem-l-ns-ref-s$s        ${EPOCHS:-2} $L --optimizer newton-summary --lr 0.3 --semantics reference-code
      runto sem-l-adam-s$s          ${EPOCHS:-2} $L --optimizer adam --lr 1e-3
      runto sem-l-kfac-s$s          ${EPOCHS:-2} $L --optimizer kfac
      runto sem-l-nsdiag-paper-s$s  ${EPOCHS:-2} $L --optimizer newton-summary --lr 0.3 --semantics paper --diagonal
      runto sem-l-nsdiag-ref-s$s    ${EPOCHS:-2} $L --optimizer newton-summary --lr 0.3 --semantics reference-code --diagonal
    done ;;
  semantics-mlp)  # issue 13, App. K on MLP/MNIST: full vs diagonal H̄, each with both semantics; 10k examples, 2 epochs
    for s in ${SEEDS:-0 1}; do
      M="--model mlp --dataset mnist --train-size 10000 --seed $s --optimizer newton-summary --lr 0.03"
      runto sem-m-ns-paper-s$s     2 $M --semantics paper
      runto sem-m-ns-ref-s$s       2 $M --semantics reference-code
      runto sem-m-nsdiag-paper-s$s 2 $M --semantics paper --diagonal
      runto sem-m-nsdiag-ref-s$s   2 $M --semantics reference-code --diagonal
    done ;;
  semantics-ablate)  # issue 13: which point makes a run part from the other semantics early on: the first
    # 100 updates of the LeNet 45k runs with one CLI-switchable point changed (seed 1), and both
    # semantics on seeds 2 and 3 (how often the first steps blow up)
    L="--model lenet --dataset cifar10 --seed 1 --optimizer newton-summary --lr 0.3 --epochs 1"
    runsteps sem-a-ref-window-s1        100 $L --semantics reference-code --averaging window
    runsteps sem-a-ref-random-s1        100 $L --semantics reference-code --summary-batches random
    runsteps sem-a-ref-window-random-s1 100 $L --semantics reference-code --averaging window --summary-batches random
    runsteps sem-a-paper-refavg-s1      100 $L --semantics paper --averaging reference-code
    runsteps sem-a-paper-seq-s1         100 $L --semantics paper --summary-batches sequential
    for s in 2 3; do
      L="--model lenet --dataset cifar10 --seed $s --optimizer newton-summary --lr 0.3 --epochs 1"
      runsteps sem-a-paper-s$s 100 $L --semantics paper
      runsteps sem-a-ref-s$s   100 $L --semantics reference-code
    done ;;
  semantics-horizon)  # issue 13: NewtonSummary (paper) and Adam of the semantics phase, further (EPOCHS, default 6)
    for s in ${SEEDS:-1}; do
      L="--model lenet --dataset cifar10 --seed $s"
      runto sem-l-ns-paper-s$s ${EPOCHS:-6} $L --optimizer newton-summary --lr 0.3 --semantics paper
      runto sem-l-adam-s$s     ${EPOCHS:-6} $L --optimizer adam --lr 1e-3
    done ;;
esac; done
