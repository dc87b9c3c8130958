"""
An independent float64 reimplementation (PyTorch) of the training loop of the published NewtonSummary
code (p-wol/GroupedNewton, master e5a6cf8: `newton_summary_uniform_avg.py` with an SGD-momentum
updater and `hg.py`'s summaries), written from reading it, on the tiny problem of issue 13: a 4-6-3
tanh MLP, one batch of 16 examples (gradient and summaries), T = 2, W = 2, one warm-up period,
damping λ = 0.3, μ = 0.9, λ_int = 1, negative learning rates removed, 20 updates, with and without
the cubic term. Writes trajectory.json: the inputs (float32-exact) and, per update, the parameters
and the per-group learning rates. `referenceCode.test.ts` replays it with
`newtonSummary({ semantics: 'reference-code' })`.

Run: python published_loop.py  (the venv of ../../../../../shared/peers/setup.sh has PyTorch).
"""
import json
import math

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

N, D_IN, D_H, D_OUT = 16, 4, 6, 3
T, W, WARMUP, DAMPING, MU, LAMBDA_INT, STEPS = 2, 2, 1, 0.3, 0.9, 1.0, 20


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def inputs():
    i = np.arange(N)[:, None]
    j = np.arange(D_IN)[None, :]
    x = f32(np.sin(1.7 * i + 0.3 * j + 0.1) + 0.5 * np.cos(0.4 * i * (j + 1)))
    y = (np.arange(N) * 7 + 1) % D_OUT
    def init(shape, phase, scale):
        k = np.arange(int(np.prod(shape))).reshape(shape)
        return f32(scale * np.sin(0.9 * k + phase))
    params = {
        "fc1.w": init((D_IN, D_H), 0.2, 1 / math.sqrt(D_IN)),
        "fc1.b": init((D_H,), 1.1, 0.1),
        "fc2.w": init((D_H, D_OUT), 0.7, 1 / math.sqrt(D_H)),
        "fc2.b": init((D_OUT,), 2.3, 0.1),
    }
    return x, y, params


def loss_fn(p, x, y):
    h = torch.tanh(x @ p[0] + p[1])
    logits = h @ p[2] + p[3]
    return torch.nn.functional.nll_loss(torch.log_softmax(logits, dim=1), y)


def summaries(p, x, y, u):
    """g_s = ∇_s L · u_s, H_st = u_sᵀ ∇²_st L u_t, o_s = D³_sss L[u_s, u_s, u_s] (hg.py's compute_Hg)."""
    loss = loss_fn(p, x, y)
    grads = torch.autograd.grad(loss, p, create_graph=True)
    gs = [torch.sum(g * v) for g, v in zip(grads, u)]
    S = len(p)
    H = torch.zeros(S, S)
    o = torch.zeros(S)
    for i in range(S):
        row = torch.autograd.grad(gs[i], p, create_graph=True)
        hi = [torch.sum(r * v) for r, v in zip(row, u)]
        for j in range(S):
            H[i, j] = hi[j].detach()
        third = torch.autograd.grad(hi[i], p[i], retain_graph=True)[0]
        o[i] = torch.sum(third * u[i]).detach()
    return H, torch.stack([g.detach() for g in gs]), o


class AliasedAverage:
    """The published running average over periods of W summaries, with in-place updates of two
    buffers that alias each other (and the fresh summary) exactly where the published code's do."""

    def __init__(self):
        self.use = None
        self.up = None

    def __call__(self, k, x):
        t = k % W
        if t == 0:
            if k == 0:
                self.up = x
            self.use = self.up
            self.up = x
        n_use = (0 if k < W else W) + t + 1
        for buf, n in ((self.use, n_use), (self.up, t + 1)):
            buf.mul_((n - 1) / n)
            buf.add_((1 / n) * x)  # x is read after the mul_: it may be buf itself
        return self.use


def cubic_rates(H, g, o):
    """argmin −gᵀη + ½ηᵀHη + (λ_int/6)‖Dη‖³, D = diag(|o|^(1/3)): (H + (λ_int/2) r D²) η = g with
    r = ‖Dη‖, found by bisection on r over the interval where H + (λ_int/2) r D² is positive definite."""
    d2 = torch.abs(o) ** (2 / 3)
    c = LAMBDA_INT / 2
    def pd(r):
        return bool(torch.all(torch.linalg.eigvalsh(H + c * r * torch.diag(d2)) > 0))
    def phi(r):
        eta = torch.linalg.solve(H + c * r * torch.diag(d2), g)
        return float(torch.sqrt(torch.sum(d2 * eta * eta))) - r, eta
    lo = 0.0
    if not pd(0.0):
        hi = 1.0
        while not pd(hi):
            hi *= 2
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if pd(mid) else (mid, hi)
        lo = hi
    hi = max(1.0, 2 * lo)
    while phi(hi)[0] > 0:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid == lo or mid == hi:
            break
        if not pd(mid) or phi(mid)[0] > 0:
            lo = mid
        else:
            hi = mid
    return phi(hi)[1]


def run(cubic):
    x_np, y_np, p_np = inputs()
    x, y = torch.tensor(x_np), torch.tensor(y_np)
    names = list(p_np)
    p = [torch.tensor(p_np[k], requires_grad=True) for k in names]
    buf = None
    avg = AliasedAverage()
    lrs = None
    curr = None
    out = []
    for step in range(STEPS):
        loss = loss_fn(p, x, y)
        grad = torch.autograd.grad(loss, p)
        warmup_ended = step // T >= WARMUP
        summary = step % T == 0
        direction = None
        if summary or warmup_ended:  # the SGD updater runs (and its momentum moves) only then
            buf = [g.clone() for g in grad] if buf is None else [MU * b + g for b, g in zip(buf, grad)]
            direction = buf
        if summary:
            H, g, o = summaries(p, x, y, direction)
            flat = torch.cat([g, H.reshape(-1), o])
            a = avg(step // T, flat)
            S = len(p)
            g_a, H_a, o_a = a[:S].clone(), a[S : S + S * S].reshape(S, S).clone(), a[S + S * S :].clone()
            if warmup_ended:
                raw = cubic_rates(H_a, g_a, o_a) if cubic else torch.linalg.solve(H_a, g_a)
                curr = raw  # mom_lrs = 0
                lrs = torch.relu(curr)
        if warmup_ended and lrs is not None:
            with torch.no_grad():
                for i, q in enumerate(p):
                    q.sub_(DAMPING * float(lrs[i]) * direction[i])
        out.append(
            {
                "step": step,
                "params": {k: q.detach().numpy().reshape(-1).tolist() for k, q in zip(names, p)},
                "lrs": None if lrs is None else lrs.tolist(),
            }
        )
    return out


if __name__ == "__main__":
    x, y, params = inputs()
    data = {
        "problem": "issue 13's tiny problem: 4-6-3 tanh MLP, batch 16, T 2, W 2, warm-up 1, λ 0.3, μ 0.9, λ_int 1",
        "x": x.tolist(),
        "y": y.tolist(),
        "params": {k: {"shape": list(v.shape), "data": v.reshape(-1).tolist()} for k, v in params.items()},
        "linear": run(cubic=False),
        "cubic": run(cubic=True),
    }
    with open("trajectory.json", "w") as f:
        json.dump(data, f)
        f.write("\n")
