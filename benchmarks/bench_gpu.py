"""GPU speed of deepnets.fit against plain PyTorch loops (the deep-networks issue's two jobs).

1. One epoch of a 784-300-100-10 MLP over 60,000 samples at batch 128 (synthetic data of
   MNIST's shape; nothing is downloaded): plain eager PyTorch vs deepnets.fit.
2. A CIFAR-size ResNet-18 (deepnets.zoo.resnet18_cifar) at batch 512 in bf16: images/s, plain
   PyTorch eager vs deepnets.fit(precision="bf16", channels_last=True).

    python benchmarks/bench_gpu.py [--out benchmarks/results/gpu.json]

Without a CUDA device it says so and exits 0 (the scripts stay ready to run on a lent GPU).
Each job is interleaved (A B A B ...), medians reported with the card's name.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

import deepnets
from deepnets.zoo import build


def _sync():
    torch.cuda.synchronize()


def mlp_plain(x, y, epochs=1):
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(), torch.nn.Linear(300, 100),
                                torch.nn.ReLU(), torch.nn.Linear(100, 10)).cuda()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    _sync()
    t = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], device="cuda")
        for i in range(0, x.shape[0], 128):
            idx = perm[i:i + 128]
            opt.zero_grad(set_to_none=True)
            lossf(model(x[idx]), y[idx]).backward()
            opt.step()
    _sync()
    return time.perf_counter() - t


def mlp_deepnets(x, y, epochs=1):
    net = deepnets.MLP([784, 300, 100, 10], activation="relu", output="softmax", seed=0).cuda()
    _sync()
    t = time.perf_counter()
    deepnets.fit(net, (x, y), loss="cross_entropy", optimizer="adam", lr=1e-3, epochs=epochs, batch_size=128)
    _sync()
    return time.perf_counter() - t


def resnet_plain(x, y, steps):
    model = build("resnet18_cifar", num_classes=10).cuda().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    xs = x.contiguous(memory_format=torch.channels_last)
    _sync()
    t = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = lossf(model(xs), y)
        loss.backward()
        opt.step()
    _sync()
    return steps * x.shape[0] / (time.perf_counter() - t)


def resnet_deepnets(x, y, steps):
    model = build("resnet18_cifar", num_classes=10).cuda()
    data = (x.repeat(steps, 1, 1, 1), y.repeat(steps))
    _sync()
    t = time.perf_counter()
    deepnets.fit(model, data, loss=torch.nn.CrossEntropyLoss(), optimizer="sgd", lr=0.1,
                 optimizer_options={"momentum": 0.9}, epochs=1, batch_size=x.shape[0], shuffle=False,
                 precision="bf16", channels_last=True)
    _sync()
    return steps * x.shape[0] / (time.perf_counter() - t)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/gpu.json")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing measured (run this script on a GPU machine)")
        return 0
    card = torch.cuda.get_device_name()
    g = torch.Generator(device="cuda").manual_seed(0)
    x, y = torch.randn(60000, 784, device="cuda", generator=g), torch.randint(0, 10, (60000,), device="cuda", generator=g)
    xi, yi = torch.randn(512, 3, 32, 32, device="cuda", generator=g), torch.randint(0, 10, (512,), device="cuda", generator=g)
    mlp_plain(x, y), mlp_deepnets(x, y), resnet_plain(xi, yi, 3), resnet_deepnets(xi, yi, 3)  # warm-up
    res = {"card": card, "torch": torch.__version__, "mlp_epoch_s": {"plain": [], "deepnets": []},
           "resnet18_images_per_s": {"plain": [], "deepnets": []}}
    for _ in range(args.repeats):
        res["mlp_epoch_s"]["plain"].append(mlp_plain(x, y))
        res["mlp_epoch_s"]["deepnets"].append(mlp_deepnets(x, y))
        res["resnet18_images_per_s"]["plain"].append(resnet_plain(xi, yi, 20))
        res["resnet18_images_per_s"]["deepnets"].append(resnet_deepnets(xi, yi, 20))
    for job, unit in (("mlp_epoch_s", "s/epoch"), ("resnet18_images_per_s", "images/s")):
        for peer, v in res[job].items():
            print(f"{card}  {job:<22} {peer:<9} median {statistics.median(v):.4g} {unit}")
    with open(args.out, "w") as fh:
        json.dump(res, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
