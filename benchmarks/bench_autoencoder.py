"""Autoencoders against PCA, PyTorch (CPU) and scikit-learn's MLPRegressor, in one run.

Run: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_autoencoder.py [--repeats 3]

1. Speed: Adam, lr 1e-3 (constant), batch 256, reshuffled each epoch, linear tied autoencoder
   (MLPRegressor: untied, identity activation): wall time (evaluation excluded) until the
   full-data reconstruction error is within 1% of PCA's. embedkit runs its library training
   loop (its graph, its Adam).
2. Where it ends: embedkit's default training (``Autoencoder(k).fit``): error / PCA error,
   largest principal angle to the PCA subspace, and the relative eigen-gap at k.
3. Denoising: nonlinear, 64 sigmoid or relu hidden units, untied, sigmoid output, digits/16,
   50 epochs, Adam 1e-3, batch 256, masking 0.3 or Gaussian 0.1: seconds per epoch and clean
   reconstruction error vs torch with embedkit's default schedule (the same configuration),
   and torch's error with a constant lr for reference.
4. Scale (``--scale MB ...``, with ``--ks``, ``--csv MB``, ``--dir``; ``--scale-only`` skips
   1-3): large generated matrices, whole commands as separate processes, wall time and peak
   memory against scikit-learn's PCA, the goals of issue 18 checked on each line; run by
   ``_ae_scale.py`` in a fresh process (see its docstring). ``--encode-decode`` (with
   ``--scale``, optional ``--baseline DIR``): ``encode`` and ``decode`` of those matrices
   instead, output written block by block.
5. Against another version (``_ae_time_to_pca.py --baseline DIR``): section 1's time to
   within 1% of PCA's error, embedkit alone, this tree and an older one in the same round
   robin, each process timing PCA too.
All with one BLAS thread; medians over repeats.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from embedkit.ae import Autoencoder  # noqa: E402
from embedkit.ae.models import Architecture  # noqa: E402
from embedkit.ae.noise import Noise  # noqa: E402
from embedkit.ae.pca import principal_angles, relative_eigengap  # noqa: E402
from embedkit.ae.training import TrainingSettings, learning_rate, train  # noqa: E402
from embedkit.core.schedules import constant  # noqa: E402

torch.set_num_threads(1)
warnings.filterwarnings("ignore")
BATCH, LR = 256, 1e-3


def synthetic(n=20000, d=784, rank=32, seed=0):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((d, rank)))[0]
    X = (rng.standard_normal((n, rank)) * np.linspace(3, 1, rank)) @ basis.T
    return (X + 0.3 * rng.standard_normal((n, d))).astype(np.float32)


def pca_reference(X, k):
    started = time.perf_counter()
    pca = PCA(k + 1, svd_solver="full").fit(X)
    seconds = time.perf_counter() - started
    top = pca.components_[:k]
    centred = X - pca.mean_
    error = float(np.mean((centred - centred @ top.T @ top) ** 2))
    return error, top, relative_eigengap(pca.explained_variance_, k), seconds


def time_to_target(epoch_step, evaluate, target, max_epochs):
    """Seconds of training (evaluation excluded) until evaluate() <= target, or inf."""
    spent = 0.0
    for _ in range(max_epochs):
        started = time.perf_counter()
        epoch_step()
        spent += time.perf_counter() - started
        if evaluate() <= target:
            return spent
    return float("inf")


class _Reached(Exception):
    """Raised from the training callback once the target error is reached."""


def embedkit_speed(Xc, k, target, max_epochs, seed):
    """The library's own training loop (embedkit.ae.training.train) with a constant lr; the
    epochs' own timings are summed, so the evaluation in the callback is excluded."""
    rng = np.random.default_rng(seed)
    arch = Architecture("linear", True)
    params = arch.init_params(Xc.shape[1], k, rng, np.float32)
    spent = [0.0]

    def callback(record):
        if record["event"] != "epoch":
            return
        spent[0] += record["seconds"]
        W = params["W"]  # updated in place by the optimizer
        if float(np.mean((Xc @ W.T @ W - Xc) ** 2)) <= target:
            raise _Reached

    try:
        train(arch, params, Xc, TrainingSettings(lr=LR, epochs=max_epochs, batch_size=BATCH),
              rng, callback=callback, schedule=constant(LR))
    except _Reached:
        return spent[0]
    return float("inf")


def torch_speed(Xc, k, target, max_epochs, seed):
    torch.manual_seed(seed)
    X = torch.from_numpy(Xc)
    limit = np.sqrt(6 / (Xc.shape[1] + k))
    W = torch.empty(k, Xc.shape[1]).uniform_(-limit, limit).requires_grad_()
    optimizer = torch.optim.Adam([W], lr=LR)

    def epoch():
        order = torch.randperm(len(X))
        for start in range(0, len(X), BATCH):
            batch = X[order[start:start + BATCH]]
            loss = torch.mean((batch @ W.T @ W - batch) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def evaluate():
        with torch.no_grad():
            return float(torch.mean((X @ W.T @ W - X) ** 2))
    return time_to_target(epoch, evaluate, target, max_epochs)


def mlp_speed(Xc, k, target, max_epochs, seed):
    model = MLPRegressor(hidden_layer_sizes=(k,), activation="identity", solver="adam",
                         learning_rate_init=LR,
                         batch_size=BATCH, random_state=np.random.RandomState(seed),
                         shuffle=True)
    return time_to_target(lambda: model.partial_fit(Xc, Xc),
                          lambda: float(np.mean((model.predict(Xc) - Xc) ** 2)), target,
                          max_epochs)


def where_it_ends(X, k, pca_error, top, seed):
    started = time.perf_counter()
    model = Autoencoder(k, random_state=seed).fit(X)
    seconds = time.perf_counter() - started
    angle = np.degrees(principal_angles(top.T, model.components_.T)).max()
    return -model.score(X) / pca_error, float(angle), seconds


def torch_denoise(X, noise, activation, epochs, seed, annealed):
    """torch's nn.Linear layers (its default initialisation), Adam, the same noise stream;
    ``annealed``: embedkit's default schedule through LambdaLR, else torch's constant lr."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    hidden = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[activation]
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), hidden(),
                              torch.nn.Linear(64, 64), torch.nn.Sigmoid())
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    schedule = learning_rate(LR, epochs * -(-len(X) // BATCH))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: schedule(step) / LR if annealed else 1.0)
    Xt = torch.from_numpy(X)
    started = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), BATCH):
            rows = order[start:start + BATCH]
            clean = Xt[rows]
            noisy = torch.from_numpy(noise(X[rows], rng))
            loss = torch.mean((net(noisy) - clean) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    per_epoch = (time.perf_counter() - started) / epochs
    with torch.no_grad():
        return per_epoch, float(torch.mean((net(Xt) - Xt) ** 2))


def embedkit_denoise(X, noise, activation, epochs, seed):
    model = Autoencoder(64, kind="nonlinear", tied=False, activation=activation,
                        output_activation="sigmoid", noise=str(noise), epochs=epochs,
                        random_state=seed)
    started = time.perf_counter()
    model.fit(X)
    per_epoch = (time.perf_counter() - started) / epochs
    return per_epoch, float(np.mean((model.reconstruct(X) - X) ** 2))


def linear_sections(datasets, repeats, ends_too=True):
    med = np.median
    print("# speed: seconds to within 1% of PCA's error (Adam 1e-3, batch 256)")
    print("data\tk\tpca_s\tembedkit_s\ttorch_s\tmlp_s\tembedkit/torch\tembedkit/mlp\t"
          "embedkit/pca\tload")
    ends = []
    for name, X in datasets.items():
        Xc = X - X.mean(axis=0)
        max_epochs = 3000 if name == "digits" else 40  # digits k=32 needs ~1000 (torch)
        for k in (8, 32):
            pca_error, top, gap, pca_s = pca_reference(X, k)
            target = 1.01 * pca_error
            runs = [(embedkit_speed(Xc, k, target, max_epochs, s),
                     torch_speed(Xc, k, target, max_epochs, s),
                     mlp_speed(Xc, k, target, max_epochs, s)) for s in range(repeats)]
            e, t, m = (med([r[i] for r in runs]) for i in range(3))
            print(f"{name}\t{k}\t{pca_s:.3f}\t{e:.3f}\t{t:.3f}\t{m:.3f}\t{e / t:.2f}\t{e / m:.2f}\t"
                  f"{e / pca_s:.1f}\t{os.getloadavg()[0]:.2f}", flush=True)
            if ends_too:
                ends.append((name, k, gap, [where_it_ends(X, k, pca_error, top, s)
                                            for s in range(repeats)]))
    if not ends_too:
        return
    print("\n# where it ends: default Autoencoder(k).fit (50 epochs, held-then-cosine lr, "
          "polish)")
    print("data\tk\teigengap\terror/pca\tmax_angle_deg\tseconds")
    for name, k, gap, runs in ends:
        print(f"{name}\t{k}\t{gap:.3f}\t{med([r[0] for r in runs]):.6f}\t"
              f"{med([r[1] for r in runs]):.4f}\t{med([r[2] for r in runs]):.2f}")


def denoising_section(X, repeats):
    med = np.median
    print("\n# denoising: digits/16, 64 hidden, sigmoid output, 50 epochs, Adam 1e-3, "
          "batch 256;")
    print("# torch: same schedule as embedkit's default (held, then cosine) and constant lr")
    print("noise\tactivation\tembedkit_s/epoch\ttorch_s/epoch\tratio\tembedkit_err\t"
          "torch_err\terr_ratio\ttorch_const_err")
    for noise in (Noise("mask", 0.3), Noise("gaussian", 0.1)):
        for activation in ("sigmoid", "relu"):
            runs = [(embedkit_denoise(X, noise, activation, 50, s),
                     torch_denoise(X, noise, activation, 50, s, annealed=True),
                     torch_denoise(X, noise, activation, 50, s, annealed=False))
                    for s in range(repeats)]
            (oe, ee), (ot, te), (_, tc) = [[med([r[i][j] for r in runs]) for j in (0, 1)]
                                           for i in range(3)]
            print(f"{noise}\t{activation}\t{oe:.4f}\t{ot:.4f}\t{oe / ot:.2f}\t{ee:.4f}\t"
                  f"{te:.4f}\t{ee / te:.2f}\t{tc:.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--denoising-only", action="store_true")
    parser.add_argument("--speed-only", action="store_true",
                        help="section 1 only (the one that needs a quiet machine)")
    parser.add_argument("--scale", type=int, nargs="+", default=[], metavar="MB",
                        help="also run the scale cases on matrices of these sizes")
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--csv", type=int, default=0, metavar="MB",
                        help="also autoencode a CSV of this many MB of numbers")
    parser.add_argument("--dir", default=None, help="where the scale cases write their data")
    parser.add_argument("--scale-only", action="store_true")
    parser.add_argument("--encode-decode", action="store_true",
                        help="the scale cases time encode and decode (see _ae_scale.py)")
    parser.add_argument("--baseline", default=None, metavar="DIR",
                        help="with --encode-decode: also run the embedkit source tree in DIR")
    args = parser.parse_args()
    if args.scale or args.csv:
        # a fresh process: this one holds torch, whose memory its children's peaks would count
        scale = [sys.executable, str(Path(__file__).with_name("_ae_scale.py")), "--repeats",
                 str(args.repeats), "--ks", *map(str, args.ks), "--csv", str(args.csv)]
        subprocess.run(scale + (["--scale", *map(str, args.scale)] if args.scale else [])
                       + (["--dir", args.dir] if args.dir else [])
                       + (["--encode-decode"] if args.encode_decode else [])
                       + (["--baseline", args.baseline] if args.baseline else []), check=True)
    if args.scale_only:
        return
    digits = load_digits().data
    datasets = {} if args.denoising_only else {
        "digits": StandardScaler().fit_transform(digits).astype(np.float32)}
    if not (args.skip_synthetic or args.denoising_only):
        datasets["synthetic"] = synthetic()
    if datasets:
        linear_sections(datasets, args.repeats, ends_too=not args.speed_only)
    if not args.speed_only:
        denoising_section((digits / 16).astype(np.float32), args.repeats)


if __name__ == "__main__":
    main()
