"""A second check of `make bench`'s ratios, written without `benchmarks/bench_mlp.py` or fit's internals.

Its own data handling (scikit-learn's ``load_digits`` split 75/25 by ``train_test_split``;
MNIST-1D's arrays with their own train/test split; ``StandardScaler`` fitted on the training
part), its own timer (``resource.getrusage``: user + system CPU seconds of this process), its own
PyTorch loop and a different seed sequence. Only public calls: ``MLPClassifier.fit``, ``torch.nn``
and ``torch.optim``, ``deepnets.MLP`` and ``deepnets.fit``. The three peers are interleaved round
by round; it prints each peer's median CPU time, the accuracy, and deepnets' time ratio to each
peer (median of the per-round ratios, min-max), to be compared with ``bench_mlp.py``'s (the two
should agree within 10%).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_mlp_independent.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import warnings

import numpy as np
import torch

EPOCHS, BATCH, LR = 200, 200, 1e-3


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=11, stratify=y)


def mnist1d():
    from deepnets.data import load_dataset  # the data only; its own split is the dataset's

    d = load_dataset("mnist1d")
    return (d.x.numpy(), d.test[0].numpy(), d.y.numpy(), d.test[1].numpy())


def scaled(xtr, xte, ytr, yte):
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(xtr)
    return (sc.transform(xtr).astype(np.float32), sc.transform(xte).astype(np.float32),
            np.asarray(ytr, dtype=np.int64), np.asarray(yte, dtype=np.int64))


def sklearn_peer(xtr, xte, ytr, yte, hidden, seed, epochs):
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden, solver="adam", learning_rate_init=LR, batch_size=BATCH, max_iter=epochs, tol=0.0,
                        n_iter_no_change=epochs + 1, alpha=0.0, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = cpu_seconds()
        clf.fit(xtr, ytr)
        dt = cpu_seconds() - t
    return dt, float((clf.predict(xte) == yte).mean())


def torch_peer(xtr, xte, ytr, yte, hidden, seed, epochs):
    torch.manual_seed(seed)
    widths = [xtr.shape[1], *hidden, int(ytr.max()) + 1]
    mods = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        mods.append(torch.nn.Linear(a, b))
        if i < len(widths) - 2:
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    X, Y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    t = cpu_seconds()
    for _ in range(epochs):
        order = torch.randperm(len(X))
        for idx in order.split(BATCH):
            loss = torch.nn.functional.cross_entropy(net(X[idx]), Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    dt = cpu_seconds() - t
    with torch.no_grad():
        acc = float((net(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
    return dt, acc


def deepnets_peer(xtr, xte, ytr, yte, hidden, seed, epochs):
    import deepnets

    net = deepnets.MLP([xtr.shape[1], *hidden, int(ytr.max()) + 1], activation="relu", output="softmax",
                       init="xavier_bias", seed=seed)
    X, Y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = cpu_seconds()
        deepnets.fit(net, (X, Y), loss="cross_entropy", optimizer="adam", lr=LR, epochs=epochs, batch_size=BATCH,
                     seed=seed)
        dt = cpu_seconds() - t
    with torch.no_grad():
        acc = float((net(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
    return dt, acc


PEERS = {"scikit-learn": sklearn_peer, "plain PyTorch": torch_peer, "deepnets.fit": deepnets_peer}
JOBS = {"digits 64-100-10": (digits, (100,)), "MNIST-1D 40-100-100-10": (mnist1d, (100, 100))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    for job, (load, hidden) in JOBS.items():
        data = scaled(*load())
        for fn in PEERS.values():
            fn(*data, hidden, 100, 2)  # warm
        res = {p: [] for p in PEERS}
        for r in range(args.rounds):
            for p, fn in PEERS.items():
                res[p].append(fn(*data, hidden, 100 + r, args.epochs))
        print(f"\n{job} ({args.epochs} epochs, CPU time, {args.rounds} rounds, load {os.getloadavg()[0]:.1f})")
        for p, v in res.items():
            print(f"  {p:<14} {statistics.median(t for t, _ in v):7.3f} s   accuracy "
                  f"{statistics.median(a for _, a in v):.4f}")
        for p in ("scikit-learn", "plain PyTorch"):
            q = [d[0] / o[0] for d, o in zip(res["deepnets.fit"], res[p])]
            print(f"  deepnets.fit / {p}: {statistics.median(q):.2f}x [{min(q):.2f}-{max(q):.2f}]")


if __name__ == "__main__":
    main()
