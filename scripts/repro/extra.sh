#!/usr/bin/env bash
# Follow-up runs of docs/results.md (LeNet backend diagnostic, K-FAC on more data). Usage: extra.sh <phase>...
set -u
cd "$(dirname "$0")/../.."
. scripts/repro/common.sh
D="--model lenet --dataset cifar10 --train-size 2000 --epochs 2 --val-size 1000 --seed 0 --optimizer newton-summary --lr 0.3"
for phase in "$@"; do case $phase in
  lenet-backend)  # is the LeNet divergence the wasm backend's (XNN setup warnings)? same run on both backends
    run d-lenet-ns-wasm $D --backend wasm
    run d-lenet-ns-cpu  $D --backend cpu ;;
  lenet-fixed)  # l-ns rerun after the rank-7 fix in core (docs/results.md §2)
    run l-ns-fixed --model lenet --dataset cifar10 --train-size 5000 --epochs 2 --seed 0 --optimizer newton-summary --lr 0.3 ;;
  kfac-10k)
    run m-kfac-10k --model mlp --dataset mnist --train-size 10000 --epochs 2 --seed 0 --optimizer kfac
    run m-ns-10k   --model mlp --dataset mnist --train-size 10000 --epochs 2 --seed 0 --optimizer newton-summary --lr 0.03
    run m-adam-10k --model mlp --dataset mnist --train-size 10000 --epochs 2 --seed 0 --optimizer adam --lr 1e-3 ;;
esac; done
# (appended) LeNet NewtonSummary at the l-ns setting on the cpu backend (wasm's summaries are wrong for LeNet, see results.md)
for phase in "$@"; do case $phase in
  lenet-cpu)
    run l-ns-cpu --model lenet --dataset cifar10 --train-size 5000 --epochs 2 --seed 0 --optimizer newton-summary --lr 0.3 --backend cpu ;;
esac; done
