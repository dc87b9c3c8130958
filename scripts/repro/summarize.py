#!/usr/bin/env python3
"""Tables of docs/results.md from runs/repro/*/metrics.jsonl (+ <name>.time). Usage: summarize.py [RUNS_DIR]"""
import json, os, statistics, sys, glob
R = sys.argv[1] if len(sys.argv) > 1 else "runs/repro"

def load(name):
    d = os.path.join(R, name)
    p = os.path.join(d, "metrics.jsonl")
    if not os.path.exists(p): return None
    ep, steps = [], []
    for line in open(p):
        r = json.loads(line)
        (ep if r["kind"] == "epoch" else steps).append(r)
    t = None
    tp = d + ".time"
    if os.path.exists(tp):
        try: t = float(open(tp).read().split()[-1])
        except Exception: pass
    return dict(epochs=ep, steps=steps, wall=t)

def f(x, n=4):
    if isinstance(x, str): return x
    return f"{x:.{n}f}"

def ms(xs, n=4):
    xs = [x for x in xs if isinstance(x, (int, float))]
    if not xs: return "–"
    if len(xs) == 1: return f(xs[0], n)
    return f"{statistics.mean(xs):.{n}f} ± {statistics.stdev(xs):.{n}f}"

def single_table(names):
    print("| run | epochs | final train loss | val loss | val acc | mean epoch time (s) | wall (s) | min λ scale | last solver case |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in names:
        r = load(n)
        if r is None or not r["epochs"]: print(f"| {n} | (not run) |||||||"); continue
        e = r["epochs"][-1]
        et = statistics.mean(x["epoch_time_s"] for x in r["epochs"])
        scale = min((x.get("lambda_scale", 1) for x in r["epochs"]), default=None)
        print(f"| {n} | {e['epoch']} | {f(e['train_loss'])} | {f(e['val_loss'])} | {f(e['val_accuracy'])} | {et:.1f} | {r['wall'] if r['wall'] else '–'} | {scale if 'lambda_scale' in e else '–'} | {e.get('solver_case', '–')} |")

def seeds_table(prefix, label):
    runs = sorted(glob.glob(os.path.join(R, prefix + "-s*")))
    runs = [os.path.basename(x) for x in runs if os.path.isdir(x)]
    data = [load(n) for n in runs]
    data = [d for d in data if d and d["epochs"]]
    if not data: return
    E = max(len(d["epochs"]) for d in data)
    print(f"\n**{label}** — seeds: {', '.join(runs)} (mean ± sample std over the {len(data)} seed(s) that have the epoch)\n")
    print("| epoch | n | train loss | val loss | val acc | epoch time (s) |")
    print("|---|---|---|---|---|---|")
    for i in range(E):
        rows = [d["epochs"][i] for d in data if len(d["epochs"]) > i]
        print(f"| {i+1} | {len(rows)} | {ms([r['train_loss'] for r in rows])} | {ms([r['val_loss'] for r in rows])} | {ms([r['val_accuracy'] for r in rows])} | {ms([r['epoch_time_s'] for r in rows], 1)} |")
    walls = [d["wall"] for d in data if d["wall"]]
    print(f"\nwall time per run (s): {', '.join(f'{w:.0f}' for w in walls)}")

def epochs_table(names):
    """Per epoch, each run's train loss / val loss / val acc side by side."""
    data = {n: load(n) for n in names}
    data = {n: d for n, d in data.items() if d and d["epochs"]}
    if not data: return
    print("| epoch | " + " | ".join(f"{n}: train / val loss / val acc" for n in data) + " |")
    print("|---|" + "---|" * len(data))
    for i in range(max(len(d["epochs"]) for d in data.values())):
        cells = []
        for d in data.values():
            e = d["epochs"][i] if len(d["epochs"]) > i else None
            cells.append(f"{e['train_loss']:.3f} / {e['val_loss']:.3f} / {e['val_accuracy']:.3f}" if e else "")
        print(f"| {i+1} | " + " | ".join(cells) + " |")
    print("\n| run | mean epoch time (s) | s / update | wall (s) |\n|---|---|---|---|")
    for n, d in data.items():
        et = statistics.mean(x["epoch_time_s"] for x in d["epochs"])
        ups = d["epochs"][-1]["step"] / len(d["epochs"])
        print(f"| {n} | {et:.1f} | {et / ups:.3f} | {d['wall'] if d['wall'] else '–'} |")

def interaction_summary(fig_dir="docs/figures/fig1"):
    """Fig. 1: normalised |M_ij|/√|M_ii M_jj| of H̄ and H̄⁻¹, off-diagonal means grouped by how far apart the groups' layers are."""
    import numpy as np
    print("| map | loss | H̄ eigenvalues (min, max) | matrix | off-diagonal mean | same layer (w–b) | adjacent layers | ≥ 2 layers apart | first layer's row (conv1.w) | entries > 1 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in sorted(glob.glob(os.path.join(fig_dir, "*", "interaction.json"))):
        j = json.load(open(d))
        labels = j["labels"]
        layer = [l.rsplit(".", 1)[0] for l in labels]
        order = list(dict.fromkeys(layer))
        pos = [order.index(l) for l in layer]
        ev = np.linalg.eigvalsh(np.array(j["hbar"]))
        name = os.path.basename(os.path.dirname(d))
        for which, key in (("H̄", "normalized"), ("H̄⁻¹", "normalizedInverse")):
            M = np.abs(np.array(j[key]))
            buckets = {0: [], 1: [], 2: []}
            off = []
            for a in range(len(labels)):
                for b in range(a + 1, len(labels)):
                    buckets[min(abs(pos[a] - pos[b]), 2)].append(M[a][b])
                    off.append(M[a][b])
            first = [M[0][b] for b in range(1, len(labels)) if pos[b] != pos[0]]
            m = lambda xs: f"{np.mean(xs):.2f}" if xs else "–"
            head = f"{name} (step {j['meta']['step']}, {j['meta']['batchSize']}×{j['meta'].get('batches', 1)} examples) | {j['loss']:.3f} | {ev[0]:.2g}, {ev[-1]:.2g}" if which == "H̄" else " | | "
            print(f"| {head} | {which} | {m(off)} | {m(buckets[0])} | {m(buckets[1])} | {m(buckets[2])} | {m(first)} | {int((np.array(off) > 1).sum())} |")

if __name__ == "__main__":
    print("## small MLP/MNIST (5000 examples, 2 epochs, seed 0)\n")
    single_table(["s-ns-canonical", "s-ns-trivial", "s-ns-weights-biases", "s-ns-blocks-2", "s-ns-alternate-2", "s-ns-diagonal", "s-adam-3e-4", "s-adam-1e-3", "s-adam-3e-3", "s-kfac"])
    print("\n## full MNIST")
    seeds_table("f-ns", "NewtonSummary λ 0.03")
    seeds_table("f-adam", "Adam lr 1e-3")
    print("\n## LeNet CIFAR-10 (5000, 2 epochs)\n")
    single_table(["l-ns", "l-adam", "l-ns-cpu"])
    print("\n## LeNet wasm/cpu diagnostic (2000, 2 epochs, val 1000)\n")
    single_table(["d-lenet-ns-wasm", "d-lenet-ns-cpu"])
    print("\n## MLP/MNIST 10k, 2 epochs: K-FAC vs NewtonSummary vs Adam\n")
    single_table(["m-kfac-10k", "m-ns-10k", "m-adam-10k"])
    print("\n## LeNet CIFAR-10 (10k, 8 epochs): Fig. 2 LeNet row, App. K\n")
    epochs_table(["l10-ns", "l10-adam", "l10-kfac", "l10-ns-diag"])
    print("\n## full MNIST with K-FAC")
    seeds_table("f-kfac", "K-FAC lr 0.01")
    print("\n## BigMLP (5k CIFAR-10, 2 epochs) and VGG-11' (1k, 1 epoch)\n")
    epochs_table(["b-ns", "b-adam"])
    epochs_table(["v-ns", "v-adam"])
    print("\n## Fig. 1 interaction maps\n")
    interaction_summary()
