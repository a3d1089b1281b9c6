"""One training step of a two-layer MLP autoencoder (forward, backward, Adam), three ways.

embedkit's backprop core against hand-written NumPy gradients and PyTorch on the CPU, on the
same float32 data, one BLAS thread each, in one run. Shapes: batch 256 with 784→256→784 (the
kernels dominate) and batch 64 with 64→32→64 (per-operation overhead dominates). Prints the
median time per step of several repeats and each time as a multiple of the hand-written step.

Usage: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_core.py [--repeats 7]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy or torch load their BLAS

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from embedkit.core import Tensor, ops  # noqa: E402
from embedkit.core.optim import Adam  # noqa: E402

LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8


def init(rng, n_in, n_hidden):
    """Weights and a batch shared by all three implementations (float32)."""
    w1 = (rng.standard_normal((n_in, n_hidden)) / math.sqrt(n_in)).astype(np.float32)
    w2 = (rng.standard_normal((n_hidden, n_in)) / math.sqrt(n_hidden)).astype(np.float32)
    return [w1, np.zeros(n_hidden, np.float32), w2, np.zeros(n_in, np.float32)]


def embedkit_step(params, x):
    tensors = [Tensor(p.copy(), requires_grad=True) for p in params]
    w1, b1, w2, b2 = tensors
    opt = Adam(tensors, lr=LR, beta1=BETA1, beta2=BETA2, eps=EPS)

    def step():
        opt.zero_grad()
        h = ops.tanh(x @ w1 + b1)
        loss = ops.mse(h @ w2 + b2, x)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def numpy_step(params, x):
    """The same step with gradients and Adam written out by hand."""
    w1, b1, w2, b2 = params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = [0]

    def step():
        h = np.tanh(x @ w1 + b1)
        diff = h @ w2 + b2 - x
        loss = np.mean(diff * diff)
        gy = diff * np.float32(2 / diff.size)
        gh = (gy @ w2.T) * (1 - h * h)
        grads = [x.T @ gh, gh.sum(0), h.T @ gy, gy.sum(0)]
        t[0] += 1
        c1, c2 = 1 - BETA1 ** t[0], 1 - BETA2 ** t[0]
        for p, g, mi, vi in zip(params, grads, m, v, strict=True):
            mi *= BETA1
            mi += (1 - BETA1) * g
            vi *= BETA2
            vi += (1 - BETA2) * (g * g)
            denom = np.sqrt(vi)
            denom /= math.sqrt(c2)
            denom += EPS
            np.divide(mi, denom, out=denom)
            denom *= LR / c1
            p -= denom
        return float(loss)
    return step


def torch_step(params, x):
    torch.set_num_threads(1)
    w1, b1, w2, b2 = tensors = [torch.tensor(p, requires_grad=True) for p in params]
    xt = torch.from_numpy(x)
    opt = torch.optim.Adam(tensors, lr=LR, betas=(BETA1, BETA2), eps=EPS)

    def step():
        opt.zero_grad()
        h = torch.tanh(xt @ w1 + b1)
        loss = torch.mean((h @ w2 + b2 - xt) ** 2)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def median_step_time(step, n_steps, repeats):
    step()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n_steps):
            step()
        times.append((time.perf_counter() - start) / n_steps)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    print(f"numpy {np.__version__}, torch {torch.__version__}, 1 BLAS thread, "
          f"median of {args.repeats} repeats")
    print(f"{'case':<22}{'hand NumPy':>12}{'embedkit':>12}{'torch':>12}"
          f"{'embedkit/hand':>15}{'torch/hand':>12}")
    for batch, n_in, n_hidden, n_steps in [(256, 784, 256, 20), (64, 64, 32, 500)]:
        params = init(rng, n_in, n_hidden)
        x = rng.random((batch, n_in), dtype=np.float32)
        steps = {"hand": numpy_step(params, x), "embedkit": embedkit_step(params, x),
                 "torch": torch_step(params, x)}
        # the three must compute the same thing: same losses over a few steps
        losses = {name: [step() for _ in range(3)] for name, step in steps.items()}
        assert np.allclose(losses["hand"], losses["embedkit"], rtol=1e-4), losses
        assert np.allclose(losses["hand"], losses["torch"], rtol=1e-4), losses
        # interleave the repeats so machine noise hits all three alike
        samples = {name: [] for name in steps}
        for _ in range(args.repeats):
            for name, step in steps.items():
                samples[name].append(median_step_time(step, n_steps, 1))
        t = {name: float(np.median(s)) for name, s in samples.items()}
        label = f"{batch}x{n_in}-{n_hidden}-{n_in}"
        print(f"{label:<22}{t['hand'] * 1e3:>10.3f}ms{t['embedkit'] * 1e3:>10.3f}ms"
              f"{t['torch'] * 1e3:>10.3f}ms{t['embedkit'] / t['hand']:>14.2f}x"
              f"{t['torch'] / t['hand']:>11.2f}x")


if __name__ == "__main__":
    main()
