"""Inception-v4 (Szegedy et al. 2017, "Inception-v4, Inception-ResNet and the Impact of Residual
Connections on Learning", AAAI): build it, count its weights (42,679,816 for 1,000 classes, the
published ~42.7 M), and run one forward and backward pass on a batch of images on the CPU.

    python examples/inception_v4.py [--size 299] [--classes 1000]

The network needs at least 75 × 75 pixels (its grids shrink to 35, 17 and 8 at 299). `deepnets models`
lists it beside the other zoo networks with its multiply-accumulates.
"""

import argparse
import time

import torch

from deepnets.zoo import count_parameters, inception_v4

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--size", type=int, default=299)
p.add_argument("--classes", type=int, default=1000)
p.add_argument("--batch", type=int, default=1)
args = p.parse_args()

torch.manual_seed(0)
net = inception_v4(num_classes=args.classes)
print(f"Inception-v4, {args.classes} classes: {count_parameters(net):,} parameters")
x = torch.randn(args.batch, 3, args.size, args.size)
start = time.perf_counter()
out = net(x)
out.logsumexp(1).sum().backward()
grads = sum(1 for q in net.parameters() if q.grad is not None)
print(f"{args.batch} image(s) {args.size}×{args.size}: logits {tuple(out.shape)}, gradients on {grads} tensors, "
      f"{time.perf_counter() - start:.1f} s on the CPU")
