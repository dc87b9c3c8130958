"""Peer timings for the paper's MLP (784-1024-200-100-10, tanh, log-softmax + NLL, batch 100) in JAX
on the CPU, with the algorithm hodiff uses: the summaries (L, g_bar, H_bar, order-3 diagonal;
canonical partition S = 8, direction u = the gradient) as one forward-over-reverse pass batched
over the S group directions (vmap of jvp of grad) plus the order-3 diagonal in Taylor mode (jax.experimental.jet), all
under jax.jit; and one jit'd gradient. Random data; one JSON line of medians (ms, compile excluded).
Usage: python summaries_jax.py [--threads 1] [--reps 9]
"""
import argparse, json, os, time

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--reps", type=int, default=9)
a = p.parse_args()
# XLA's CPU client sizes its thread pools at start-up: set before importing jax.
if a.threads == 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
import jax
import jax.numpy as jnp
from jax.experimental.jet import jet

key = jax.random.PRNGKey(0)
sizes = [784, 1024, 200, 100, 10]
params = []
for i in range(4):
    key, k = jax.random.split(key)
    params += [jax.random.normal(k, (sizes[i], sizes[i + 1])) / sizes[i] ** 0.5, jnp.zeros(sizes[i + 1])]
key, kx, ky = jax.random.split(key, 3)
x = jax.random.normal(kx, (100, 784))
y = jax.random.randint(ky, (100,), 0, 10)
S = len(params)


def loss(ps):
    h = x
    for i in range(4):
        h = h @ ps[2 * i] + ps[2 * i + 1]
        if i < 3:
            h = jnp.tanh(h)
    logp = jax.nn.log_softmax(h, -1)
    return -jnp.mean(logp[jnp.arange(100), y])


gradient = jax.jit(jax.grad(loss))
u = gradient(params)


def along(alpha, ps, us):
    """L(theta + sum_s alpha_s u_s): the loss as a function of the S group step sizes."""
    return loss([p_ + a_ * u_ for p_, a_, u_ in zip(ps, alpha, us)])


@jax.jit
def summaries(ps, us):
    g = jax.value_and_grad(lambda al: along(al, ps, us))
    zero = jnp.zeros(S)
    # H_bar column by column: jvp of (L, g_bar) along each basis vector, batched by vmap.
    (l, gbar), (_, hbar) = jax.vmap(lambda e: jax.jvp(g, (zero,), (e,)), out_axes=((None, None), 0))(jnp.eye(S))

    def third(e):
        # Taylor mode along t: jet's terms are the derivatives d^k/dt^k (k = 1, 2, 3).
        _, (_, _, d3) = jet(lambda t: along(t * e, ps, us), (0.0,), ((1.0, 0.0, 0.0),))
        return d3

    return l, gbar, hbar, jax.vmap(third)(jnp.eye(S))


def median_ms(fn):
    fn(); fn()
    ts = []
    for _ in range(a.reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return round(sorted(ts)[len(ts) // 2] * 1000, 3)


block = lambda r: jax.tree_util.tree_map(lambda t: t.block_until_ready(), r)
print(json.dumps({"peer": "jax-" + jax.__version__, "threads": a.threads, "model": "mlp", "batch": 100,
                  "grad_ms": median_ms(lambda: block(gradient(params))),
                  "summaries_ms": median_ms(lambda: block(summaries(params, u)))}))
