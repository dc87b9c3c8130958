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

def wall_sum(name):
    """Wall time of a run made in several sittings (runto appends one line per sitting)."""
    tp = os.path.join(R, name + ".time")
    if not os.path.exists(tp): return None
    xs = []
    for line in open(tp):
        try: xs.append(float(line.split()[-1]))
        except (ValueError, IndexError): pass  # a "Command exited with non-zero status" line
    return sum(xs) if xs else None

def pm(xs, n=3):
    """mean ± sample std (the std of 2 seeds is |a − b|/√2); one value alone as is."""
    xs = [x for x in xs if isinstance(x, (int, float))]
    if not xs: return "–"
    if len(xs) == 1: return f"{xs[0]:.{n}f}"
    return f"{statistics.mean(xs):.{n}f} ± {statistics.stdev(xs):.{n}f}"

def sem_runs(prefix, seeds):
    out = []
    for s in seeds:
        d = load(f"{prefix}-s{s}")
        if d and d["epochs"]: out.append((s, d, wall_sum(f"{prefix}-s{s}")))
    return out

def semantics_tables(configs, seeds=(0, 1), at=None):
    """Issue 13: per optimizer, over seeds, at the epoch count every run of the table reached (or at
    epoch `at`, for the runs that reached it: then only the summary table)."""
    runs = {p: sem_runs(p, seeds) for p, _ in configs}
    if at is not None:
        runs = {p: [x for x in rs if len(x[1]["epochs"]) >= at] for p, rs in runs.items()}
        configs = [(p, l) for p, l in configs if runs[p]]
    have = [len(d["epochs"]) for rs in runs.values() for _, d, _ in rs]
    if not have: print("(not run)"); return
    E = at or min(have)
    print(f"At epoch {E} ({E} epoch(s) of every run; mean ± sample std over the seeds listed; best = lowest val loss over epochs 1–{E}):\n")
    print("| optimizer | seeds | updates | train loss (epoch mean) | val loss | val acc | best val loss | best val acc | s / update |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p, label in configs:
        rs = runs[p]
        if not rs: print(f"| {label} | (not run) ||||||||"); continue
        ep = [d["epochs"][E - 1] for _, d, _ in rs]
        best = [min(d["epochs"][:E], key=lambda e: e["val_loss"]) for _, d, _ in rs]
        print(f"| {label} | {','.join(str(s) for s, _, _ in rs)} | {ep[0]['step']} | {pm([e['train_loss'] for e in ep])} | {pm([e['val_loss'] for e in ep])} | "
              f"{pm([e['val_accuracy'] for e in ep])} | {pm([b['val_loss'] for b in best])} | {pm([max(e['val_accuracy'] for e in d['epochs'][:E]) for _, d, _ in rs])} | "
              f"{pm([sum(e['epoch_time_s'] for e in d['epochs'][:E]) / d['epochs'][E - 1]['step'] for _, d, _ in rs], 3)} |")
    if at is not None: return
    print("\nPer epoch, val loss (mean ± std over seeds):\n")
    print("| epoch | " + " | ".join(l for _, l in configs) + " |")
    print("|---|" + "---|" * len(configs))
    for i in range(max(have)):
        cells = [pm([d["epochs"][i]["val_loss"] for _, d, _ in runs[p] if len(d["epochs"]) > i]) for p, _ in configs]
        print(f"| {i+1} | " + " | ".join(cells) + " |")

def solve_diagnostics(names):
    """NewtonSummary's decisions from the step records (one per period when --log-every = T = 10), over the whole run."""
    print("| run | solves | solver cases | η zeroed (mean fraction per solve) | most zeroed groups | updates skipped after warm-up | λ scale (last) |")
    print("|---|---|---|---|---|---|---|")
    for n in names:
        d = load(n)
        if not d: continue
        seen, cases, zero, per_group, skips = set(), {}, [], {}, 0
        for r in d["steps"]:
            if r.get("skipped") and not str(r["skipped"]).startswith("warm-up"): skips += 1
            st = r.get("solve_step")
            if st is None or st in seen: continue
            seen.add(st)
            c = r.get("solver_case")
            cases[c] = cases.get(c, 0) + 1
            if r.get("eta"):
                z = [v == 0 for v in r["eta"].values()]
                zero.append(sum(z) / len(z))
                for g, v in r["eta"].items(): per_group.setdefault(g, []).append(v == 0)
        top = sorted(per_group.items(), key=lambda kv: -sum(kv[1]) / len(kv[1]))[:3]
        last = (d["epochs"] or d["steps"])[-1].get("lambda_scale", "–")
        print(f"| {n} | {len(seen)} | {', '.join(f'{k} {v}' for k, v in sorted(cases.items(), key=lambda kv: -kv[1]))} | "
              f"{statistics.mean(zero) * 100 if zero else float('nan'):.0f} % | "
              f"{', '.join(f'{g} {sum(v) / len(v) * 100:.0f} %' for g, v in top)} | {skips} | {last} |")

def early_table(names):
    """The first updates of NewtonSummary runs: the first solve's largest η, and the logged minibatch losses."""
    print("| run | first solve: case, largest η | train loss at update 40 / 50 / 70 / 100 | largest logged loss, updates 40–100 |")
    print("|---|---|---|---|")
    for n in names:
        d = load(n)
        if not d or not d["steps"]: print(f"| {n} | (not run) |||"); continue
        by = {r["step"]: r for r in d["steps"]}
        first = next((r for r in d["steps"] if r.get("eta")), None)
        big = max(first["eta"].items(), key=lambda kv: kv[1]) if first else None
        losses = [by[k]["train_loss"] for k in (40, 50, 70, 100) if k in by]
        peak = max((r["train_loss"] for r in d["steps"] if 40 <= r["step"] <= 100), default=float("nan"))
        print(f"| {n} | {first['solver_case'] if first else '–'}, {big[0]} {big[1]:.3g} | {' / '.join(f'{x:.3f}' for x in losses)} | {peak:.3f} |" if big else f"| {n} | – | {' / '.join(f'{x:.3f}' for x in losses)} | {peak:.3f} |")

SEM_LENET = [("sem-l-ns-paper", "NewtonSummary, paper"), ("sem-l-ns-ref", "NewtonSummary, reference-code"),
             ("sem-l-nsdiag-paper", "NS diagonal, paper"), ("sem-l-nsdiag-ref", "NS diagonal, reference-code"),
             ("sem-l-adam", "Adam 1e-3"), ("sem-l-kfac", "K-FAC")]
SEM_MLP = [("sem-m-ns-paper", "full H̄, paper"), ("sem-m-ns-ref", "full H̄, reference-code"),
           ("sem-m-nsdiag-paper", "diagonal H̄, paper"), ("sem-m-nsdiag-ref", "diagonal H̄, reference-code")]

def semantics_report():
    print("## issue 13: LeNet-5/CIFAR-10, 45k training images (run.sh semantics)\n")
    semantics_tables(SEM_LENET)
    print()
    semantics_tables(SEM_LENET, at=8)
    print()
    solve_diagnostics([f"{p}-s{s}" for p, _ in SEM_LENET[:4] for s in (0, 1)])
    print("\n### the first 100 updates (run.sh semantics-ablate, and the first updates of the runs above)\n")
    early_table(["sem-l-ns-paper-s1", "sem-l-ns-ref-s1", "sem-a-ref-window-s1", "sem-a-ref-random-s1", "sem-a-ref-window-random-s1",
                 "sem-a-paper-refavg-s1", "sem-a-paper-seq-s1", "sem-l-ns-paper-s0", "sem-l-ns-ref-s0",
                 "sem-a-paper-s2", "sem-a-ref-s2", "sem-a-paper-s3", "sem-a-ref-s3"])
    print("\n## issue 13: App. K on MLP/MNIST, 10k images, 2 epochs (run.sh semantics-mlp; seeds 2-4 with SEEDS='2 3 4')\n")
    semantics_tables(SEM_MLP, seeds=(0, 1, 2, 3, 4))
    print()
    solve_diagnostics([f"{p}-s{s}" for p, _ in SEM_MLP for s in (0, 1, 2, 3, 4)])

if __name__ == "__main__":
    if sys.argv[2:3] == ["semantics"]:
        semantics_report(); sys.exit(0)
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
