"""PyTorch CPU timings of the paper's models, as `pnpm bench models` measures hodiff: one gradient
(forward + backward of the mean NLL on a random batch) and one Adam step (gradient + update), medians
after warm-up. Same architectures as @hodiff/nn (LeNet-5 tanh with 2x2 max pooling; VGG-11' ELU, no
BatchNorm, 3x3 'same' convs, global average pool, fc 512->10; BigMLP 3072-20x1024-10 ELU; the MNIST
MLP 784-1024-200-100-10 tanh), NCHW as PyTorch prefers. Prints one JSON line per model.
Usage: python bench/peers/models_torch.py [--threads 1] [--models mlp,lenet,vgg11,bigmlp] [--reps 9]
(python from ../shared/peers/setup.sh)
"""
import argparse, json, time
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--models", default="mlp,lenet,vgg11,bigmlp")
p.add_argument("--reps", type=int, default=9)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)


def mlp(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(nn.Flatten(), *layers)


def lenet():
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.Tanh(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


def vgg11():
    layers, c = [], 3
    for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ELU()]
            c = v
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10))


MODELS = {
    "mlp": (lambda: mlp([784, 1024, 200, 100, 10], nn.Tanh), 100, (1, 28, 28)),
    "lenet": (lenet, 100, (3, 32, 32)),
    "vgg11": (vgg11, 32, (3, 32, 32)),
    "bigmlp": (lambda: mlp([3072] + [1024] * 20 + [10], nn.ELU), 100, (3, 32, 32)),
}


def median_ms(fn, reps):
    fn(); fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return round(sorted(ts)[len(ts) // 2] * 1000, 3)


for name in a.models.split(","):
    build, batch, shape = MODELS[name]
    model = build()
    params = list(model.parameters())
    x = torch.randn(batch, *shape)
    y = torch.arange(batch) % 10
    loss = lambda: nn.functional.nll_loss(torch.log_softmax(model(x), -1), y)
    gradient = lambda: torch.autograd.grad(loss(), params)
    opt = torch.optim.Adam(params, lr=1e-3)

    def adam_step():
        opt.zero_grad(set_to_none=True)
        loss().backward()
        opt.step()

    reps = a.reps if name in ("mlp", "lenet") else max(3, a.reps // 3)
    print(json.dumps({"peer": "torch-" + torch.__version__, "threads": a.threads, "model": name, "batch": batch,
                      "grad_ms": median_ms(gradient, reps), "adam_step_ms": median_ms(adam_step, reps)}), flush=True)
