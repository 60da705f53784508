"""A CIFAR-size ResNet-18 trains end to end through deepnets.fit on synthetic 3x32x32 images."""

import torch

from deepnets import fit
from deepnets.zoo import resnet18_cifar


def _synthetic(n: int, classes: int, seed: int):
    """Images whose class sets which colour channel carries a bright 8x8 square, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = 0.3 * torch.randn(n, 3, 32, 32, generator=g)  # (N, 3, 32, 32)
    for i in range(n):
        c, q = int(y[i]) % 3, int(y[i]) // 3  # channel and quadrant of the square
        r0, c0 = 4 + 16 * (q // 2), 4 + 16 * (q % 2)
        x[i, c, r0:r0 + 8, c0:c0 + 8] += 2.0
    return x, y


def test_resnet18_cifar_loss_falls_on_a_fixed_batch():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = resnet18_cifar(num_classes=6)
        x, y = _synthetic(12, 6, seed=1)
        loss = torch.nn.CrossEntropyLoss()
        with torch.no_grad():  # train-mode forward: batch statistics, as the steps see them
            before = float(loss(model(x), y))
        h = fit(model, (x, y), loss=loss, optimizer="adam", lr=1e-3, epochs=4, batch_size=None, seed=0)
        with torch.no_grad():
            after = float(loss(model(x), y))
    finally:
        torch.set_num_threads(threads)
    assert len(h.history["loss"]) == 4 and all(torch.isfinite(torch.tensor(h.history["loss"])))
    assert before > 1.0  # about ln 6 = 1.79 for an untrained head
    assert after < 0.5 * before
    assert h.history["loss"][-1] < h.history["loss"][0]
