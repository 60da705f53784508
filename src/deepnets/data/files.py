"""Users' own files: CSV with a header and a named target column, and NumPy NPZ archives.

Files are data, never code: CSV is parsed as text, NPZ is read with ``allow_pickle=False`` after
the archive's member count and uncompressed size are checked. Every problem raises
:class:`~deepnets.errors.DataError` naming the file, the line and the column: a ragged row, an
empty or non-numeric cell, NaN or ±inf (checked in float64, before any conversion to float32,
together with values float32 cannot hold), a missing target column (with the nearest name),
a class label that does not fit the column (:mod:`deepnets.data.labels`), too few rows.
"""

from __future__ import annotations

import array
import collections
import csv
import math
import os

import numpy as np
import torch

from .._registry import suggest
from ..errors import ConfigError, DataError
from .dataset import Dataset
from .labels import read_column_text, target_values
from .limits import LIMITS, raise_hint
from .safe_files import load_npz

#: a classification target has integer values and at most this many distinct ones (task="auto").
AUTO_MAX_CLASSES = 50
MIN_ROWS = 2
F32_MAX = float(np.finfo(np.float32).max)


def _check_value(v: float, path, line: int, col: str, text: str):
    if math.isnan(v):
        raise DataError(f"{path}: line {line}, column {col!r}: NaN ({text!r}); remove or impute it")
    if math.isinf(v):
        raise DataError(f"{path}: line {line}, column {col!r}: infinite value ({text!r})")
    if abs(v) > F32_MAX:
        raise DataError(f"{path}: line {line}, column {col!r}: {text} exceeds the float32 range (±{F32_MAX:.3g})")


def _lines(fh, path, max_chars: int):
    """The file's lines for ``csv.reader``, each refused past ``max_chars`` characters before it
    is split: a row's cells then never cost more than a bounded multiple of its bytes."""
    for number, line in enumerate(iter(lambda: fh.readline(max_chars + 1), ""), 1):
        if len(line) > max_chars:
            raise DataError(f"{path}: line {number}: longer than the cap of {max_chars} characters "
                            f"(csv_line_chars; {raise_hint('csv_line_chars')})")
        yield line


def _open_csv(path):
    """(file, csv reader, header) of ``path``, every cap checked (size, line length, columns)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    size = os.path.getsize(path)
    if size > LIMITS.csv_bytes:
        raise DataError(f"{path}: {size} bytes, above the cap of {LIMITS.csv_bytes} for a CSV file "
                        f"(csv_bytes; {raise_hint('csv_bytes')})")
    fh = open(path, newline="", encoding="utf-8-sig")
    try:
        reader = csv.reader(_lines(fh, path, LIMITS.csv_line_chars))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise DataError(f"{path}: the file is empty; expected a header row and data rows") from None
        except (csv.Error, UnicodeDecodeError) as e:
            raise DataError(f"{path}: line 1: not a readable CSV ({e})") from None
        if len(header) > LIMITS.csv_columns:
            raise DataError(f"{path}: line 1: {len(header)} columns, above the cap of {LIMITS.csv_columns} "
                            f"(csv_columns; {raise_hint('csv_columns')})")
    except BaseException:
        fh.close()
        raise
    return fh, reader, header


def _cut(names: list[str], width: int = 40) -> list[str]:
    """Column names for a message, each cut to ``width`` characters (a name may be 128 kB long)."""
    return [n if len(n) <= width else n[:width] + "..." for n in names]


def _near(name, header: list[str]) -> str:
    """A "did you mean" for ``name`` among the columns (skipped for very wide files: it is O(columns))."""
    return suggest(name, header) if len(header) <= 2000 else ""


def read_csv_table(path, *, columns: list[str] | None = None, min_rows: int = MIN_ROWS):
    """Parse a numeric CSV with a header: ``(header, float64 array (rows, cols))``, every cell checked.

    ``columns`` (optional) selects and orders the columns by name; any that are missing raise.
    Fewer than ``min_rows`` data rows raise (default 2: training needs two; predicting needs one).
    Cost: linear in the file (columns found by a dict, cells gathered 8 bytes each); the file's
    size, line length and column count are capped by ``LIMITS`` (csv_bytes, csv_line_chars,
    csv_columns).
    """
    path = os.fspath(path)
    fh, reader, header = _open_csv(path)
    with fh:
        index = {h: j for j, h in enumerate(header)}
        if len(index) != len(header):
            counts = collections.Counter(header)
            dup = sorted(h for h, k in counts.items() if k > 1)
            raise DataError(f"{path}: line 1: duplicate column names {dup[:20]}")
        if columns is None:
            take = list(range(len(header)))
        else:
            missing = [c for c in columns if c not in index]
            if missing:
                raise DataError(f"{path}: missing column(s) {_cut(missing[:10])}{_near(missing[0], header)}; "
                                f"the file has {_cut(header[:20])}")
            take = [index[c] for c in columns]
        names = [header[j] for j in take]
        cells = array.array("d")  # 8 bytes a cell, not a 32-byte Python float in a list
        n_rows = 0
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue  # blank lines are not data
                if len(row) != len(header):
                    raise DataError(f"{path}: line {line}: expected {len(header)} fields as in the header, "
                                    f"got {len(row)}")
                for j in take:
                    text = row[j].strip()
                    try:
                        v = float(text)
                    except ValueError:
                        what = "an empty cell" if not text else f"{text[:40]!r}, not a number"
                        raise DataError(f"{path}: line {line}, column {header[j]!r}: {what}") from None
                    _check_value(v, path, line, header[j], text)
                    cells.append(v)
                n_rows += 1
        except csv.Error as e:
            raise DataError(f"{path}: line {reader.line_num}: malformed CSV ({e})") from None
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e})") from None
    if n_rows < min_rows:
        raise DataError(f"{path}: {n_rows} data row(s); at least {min_rows} {'is' if min_rows == 1 else 'are'} needed")
    return names, np.frombuffer(cells, dtype=np.float64).reshape(n_rows, len(take))


def _read_header(path) -> list[str]:
    fh, _, header = _open_csv(path)
    fh.close()
    return header


def read_csv(path, target, *, task: str = "auto", n_classes: int | None = None,
             features: list[str] | None = None, classes: list | None = None) -> Dataset:
    """A :class:`Dataset` from a CSV file with a header row.

    A single target column is read as text and mapped by :func:`deepnets.data.labels.target_values`:
    class labels of any kind (text, booleans, 1-based or sparse integers) become classes 0..C−1,
    ``Dataset.classes`` keeps the original labels; a cell that contradicts the detected task raises
    naming its line.

    Args:
        path: the file.
        target: the target column's name (or a list of names for several regression targets).
        task: ``"classification"``, ``"regression"`` or ``"auto"`` (classification when the target
            holds whole numbers with at most 50 distinct values, or text labels).
        n_classes: declared classes: the labels must be the integers 0..n_classes−1.
        features: the feature columns in order (default: every other column).
        classes: a trained run's classes, which the labels must be among (scoring a new file).
    """
    targets = [target] if isinstance(target, str) else list(target)
    if task not in ("auto", "classification", "regression"):
        raise ConfigError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    if features is None:
        header = _read_header(path)
        missing = [t for t in targets if t not in header]
        if missing:
            raise DataError(f"{os.fspath(path)}: target column {missing[0]!r} not found{_near(missing[0], header)}; "
                            f"the columns are {_cut(header[:20])}")
        skip = set(targets)
        features = [h for h in header if h not in skip]
    if not features:
        raise DataError(f"{os.fspath(path)}: no feature columns besides the target {targets}")
    if len(targets) > 1:  # several regression targets: numbers, read with the features
        if task == "classification":
            raise DataError(f"{os.fspath(path)}: classification needs one target column, got {targets}")
        cols, table = read_csv_table(path, columns=[*features, *targets])
        p = len(features)
        x, y, task, labels = table[:, :p], torch.from_numpy(table[:, p:].astype(np.float32)), "regression", None
    else:
        _, x = read_csv_table(path, columns=features)  # checks every row; then the target as text
        texts, lines = read_column_text(path, targets[0])
        task, yv, labels = target_values(texts, lines, path=path, column=targets[0], task=task,
                                         n_classes=n_classes, classes=classes, check=_check_value)
        y = torch.from_numpy(yv) if task == "classification" else torch.from_numpy(yv.astype(np.float32)).unsqueeze(1)
    n_cls = max(len(labels), 2) if task == "classification" else 0
    return Dataset(torch.from_numpy(x.astype(np.float32)), y, task, os.fspath(path), n_classes=n_cls,
                   feature_names=list(features), target_names=targets, classes=labels)


def read_npz(path, *, x_key: str = "x", y_key: str = "y", task: str = "auto",
             n_classes: int | None = None, classes: list | None = None) -> Dataset:
    """A :class:`Dataset` from an ``.npz`` archive holding a feature array and a target array.

    Read by :func:`deepnets.data.safe_files.load_npz`: the zip's member count (at most
    ``LIMITS.npz_members``), and the arrays' size, inflated plus their float32 copies (at most
    ``LIMITS.npz_bytes``, 1 GiB), and every member's ``.npy`` header are checked before anything
    is decompressed, and object arrays (pickles) are refused. Features must be 2-D, targets 1-D
    or 2-D, all finite. No float64 copies: the values are checked in slices. Class labels (numbers
    or a NumPy string array) are mapped as a CSV's are (:func:`deepnets.data.labels.target_values`):
    classes 0..C−1, ``Dataset.classes`` the original labels; ``classes`` (a trained run's) makes
    every label one of them.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    arrays = load_npz(path, max_members=LIMITS.npz_members, max_bytes=LIMITS.npz_bytes,
                      float32_copy=True)  # checks before inflating
    for key in (x_key, y_key):
        if key not in arrays:
            raise DataError(f"{path}: no array named {key!r}; the archive holds {sorted(arrays)}")
    x, yv = arrays[x_key], arrays[y_key]
    text = yv.dtype.kind in "US"  # text labels (a NumPy string array, not a pickle)
    if not (np.issubdtype(x.dtype, np.number) and (text or np.issubdtype(yv.dtype, np.number))):
        raise DataError(f"{path}: the features must be numeric and the targets numbers or text labels, "
                        f"got {x.dtype} and {yv.dtype}")
    if np.issubdtype(x.dtype, np.complexfloating) or np.issubdtype(yv.dtype, np.complexfloating):
        raise DataError(f"{path}: arrays must be real, got {x.dtype} and {yv.dtype}")
    if x.ndim != 2:
        raise DataError(f"{path}: {x_key!r} must be 2-D (samples, features), got shape {x.shape}")
    if yv.ndim not in (1, 2) or yv.shape[0] != x.shape[0]:
        raise DataError(f"{path}: {y_key!r} must have {x.shape[0]} rows like {x_key!r}, got shape {yv.shape}")
    if x.shape[0] < MIN_ROWS:
        raise DataError(f"{path}: {x.shape[0]} row(s); at least {MIN_ROWS} are needed")
    for key, arr in ((x_key, x), (y_key, yv)):
        if arr is x or not text:
            _check_finite(arr.reshape(arr.shape[0], -1), path, key)
    yv2 = yv.reshape(yv.shape[0], -1)
    if task == "auto":
        task = ("classification" if text or classes is not None or (yv2.shape[1] == 1 and _whole_few(yv2))
                else "regression")
    labels = None
    if task == "classification":
        if yv2.shape[1] != 1:
            raise DataError(f"{path}: array {y_key!r}: class labels must be one column, got shape {yv.shape}")
        # the CSV's label mapping: text, 1-based, sparse or negative labels become classes 0..C-1
        texts = [str(v) for v in yv2[:, 0].tolist()]
        _, yc, labels = target_values(texts, list(range(len(texts))), path=path, column=y_key,
                                      task="classification", n_classes=n_classes, classes=classes, row="row")
        y, n_cls = torch.from_numpy(yc), max(len(labels), 2)
    elif text:
        raise DataError(f"{path}: array {y_key!r} holds text ({yv.dtype}): a regression target must be numbers")
    else:
        y, n_cls = torch.from_numpy(yv2.astype(np.float32)), 0
    return Dataset(torch.from_numpy(x.astype(np.float32, copy=False)), y, task, path, n_classes=n_cls,
                   target_names=[y_key], classes=labels)


def _whole_few(y: np.ndarray) -> bool:
    """Every value a whole number, at most ``AUTO_MAX_CLASSES`` distinct: class labels (the CSV's rule)."""
    return bool(np.all(y == np.round(y))) and len(np.unique(y)) <= AUTO_MAX_CLASSES


def _check_finite(a: np.ndarray, path, key: str, rows: int = 1 << 16) -> None:
    """A DataError at the first NaN, ±inf or value beyond float32 in the 2-D array ``a``, checked
    a slice of rows at a time (integers always fit float32)."""
    if not np.issubdtype(a.dtype, np.floating):
        return
    for start in range(0, a.shape[0], rows):
        part = a[start:start + rows]
        bad = np.argwhere(~np.isfinite(part) | (np.abs(part) > F32_MAX))
        if len(bad):
            r, c = (int(v) for v in bad[0])
            raise DataError(f"{path}: array {key!r}, row {start + r}, column {c}: {part[r, c]} is not a "
                            f"finite float32 value")
