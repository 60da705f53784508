"""Data: readers for users' local files that treat every file as data, never as code."""

from .cifar import CifarBatch, load_cifar10, read_cifar_batch, unpickle_restricted
from .idx import IDX_TYPES, load_mnist_idx, read_idx
from .safe_files import load_npz, load_pt, read_gzip_capped

__all__ = [
    # MNIST IDX files (plain or gzip)
    "IDX_TYPES", "read_idx", "load_mnist_idx",
    # CIFAR-10 python batches through an allow-list unpickler
    "CifarBatch", "read_cifar_batch", "load_cifar10", "unpickle_restricted",
    # generic safe readers
    "load_pt", "load_npz", "read_gzip_capped",
]
