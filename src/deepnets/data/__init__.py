"""Datasets by name, users' files, splits and scaling. Nothing is downloaded at run time.

>>> sorted(DATASETS)
['csv', 'digits', 'function', 'henon', 'mnist1d', 'narma10', 'npz', 'parity', 'series', 'xor']
>>> load_dataset("parity", n_bits=3).x.shape
torch.Size([8, 3])
"""

from __future__ import annotations

import inspect

from .._registry import lookup, suggest
from ..errors import ConfigError
from .bundled import digits, mnist1d
from .cifar import CifarBatch, load_cifar10, read_cifar_batch, unpickle_restricted
from .dataset import Dataset, Splits, split
from .files import read_csv, read_npz
from .number_words import Seq2SeqData, number_words, numbers_to_words
from .idx import IDX_TYPES, load_mnist_idx, read_idx
from .safe_files import load_npz, load_pt, read_gzip_capped
from .scaling import SCALINGS, Scaler, TargetScaler
from .shapes_captions import CaptionData, shapes_captions
from .sentiment import SentimentData, label_review, sentiment_reviews
from .series import (SeriesData, delay_taps, henon, henon_series, narma10, narma10_series, read_series,
                     segment_rows, series_csv, series_dataset, split_by_time, tap_names)
from .sequence_tasks import (ADDING_BASELINE_MSE, adding_problem, copy_memory, copy_memory_accuracy,
                             copy_memory_baseline)
from .synthetic import FUNCTIONS, function, parity, xor
from .text_corpus import (TEXTS, CharCorpus, char_corpus, python_topics_text, stream_batches,
                          unigram_cross_entropy, unigram_entropy)

#: name -> (loader, one-line description). Loader keyword arguments are the dataset's parameters.
DATASETS = {
    "xor": (xor, "the 4 XOR patterns t = x1 XOR x2"),
    "parity": (parity, "all 2^n patterns of n bits labelled by parity (n_bits=4)"),
    "function": (function, "z = f(x) + noise on [low, high]^dim, f in " + ", ".join(sorted(FUNCTIONS))),
    "digits": (digits, "scikit-learn's bundled 8x8 handwritten digits: 1797 x 64, 10 classes"),
    "mnist1d": (mnist1d, "MNIST-1D generated offline: 4000 train + 1000 test, length 40, 10 classes"),
    "csv": (read_csv, "a CSV file with a header: path=..., target=... (task, n_classes, features)"),
    "npz": (read_npz, "an NPZ archive: path=..., x_key='x', y_key='y' (task, n_classes, classes)"),
    "series": (series_csv, "a time series from a CSV column: path=..., column=..., lags=10 (inputs, input_lags)"),
    "narma10": (narma10, "NARMA-10 (Atiya & Parlos 2000) driven by u ~ U[0, 0.5]: n=2000, lags=10, input_lags=10"),
    "henon": (henon, "the chaotic Henon map's x (a=1.4, b=0.3): n=2000, lags=2, noise=0"),
}


def load_dataset(name: str, **params) -> Dataset:
    """Load a dataset by registry name with its parameters (checked against the loader's signature)."""
    loader = lookup(name, DATASETS, what="dataset")[0]
    sig = inspect.signature(loader)
    accepted = [p for p in sig.parameters if p != "name"]
    if name in ("csv", "npz") and "path" in params:
        params = dict(params)
        path = params.pop("path")
        accepted = accepted[1:]
        args = (path,)
    else:
        args = ()
    for key in params:
        if key not in accepted:
            raise ConfigError(f"dataset {name!r} has no parameter {key!r}{suggest(key, accepted)} (it takes {accepted})")
    try:
        sig.bind(*args, **params)
    except TypeError as e:
        raise ConfigError(f"dataset {name!r}: {e}") from None
    return loader(*args, **params)


__all__ = [
    "DATASETS", "load_dataset", "Dataset", "Splits", "split", "Scaler", "TargetScaler", "SCALINGS",
    "xor", "parity", "function", "FUNCTIONS", "digits", "mnist1d", "read_csv", "read_npz",
    # users' local files, read as data and never as code
    "IDX_TYPES", "read_idx", "load_mnist_idx",  # MNIST IDX files (plain or gzip)
    "CifarBatch", "read_cifar_batch", "load_cifar10", "unpickle_restricted",  # CIFAR-10 python batches
    "load_pt", "load_npz", "read_gzip_capped",
    # sequence tasks (generated)
    "ADDING_BASELINE_MSE", "adding_problem", "copy_memory", "copy_memory_baseline", "copy_memory_accuracy",
    # text (shipped with Python, or generated)
    "TEXTS", "CharCorpus", "char_corpus", "python_topics_text", "stream_batches",
    "unigram_entropy", "unigram_cross_entropy",
    "SentimentData", "sentiment_reviews", "label_review",
    # generated sequence-to-sequence tasks: numbers in words, captioned images of shapes
    "Seq2SeqData", "numbers_to_words", "number_words", "CaptionData", "shapes_captions",
    # time series as delay-tap rows, split by time (generated or from a CSV column)
    "SeriesData", "delay_taps", "tap_names", "series_dataset", "segment_rows", "split_by_time",
    "read_series", "series_csv", "narma10", "narma10_series", "henon", "henon_series",
]
