"""A CSV target column as it comes: class labels of any kind mapped to classes 0..C−1, or numbers.

Class labels may be text (iris's ``setosa``), booleans (``true``/``false``), 0-based, 1-based or
sparse integers (``3, 7, 9``), or negative ones (``-1, 1``). The classes are the distinct labels
in order (numbers by value, text by its characters); class c stands for ``classes[c]``, a list a
run folder keeps so that predictions are written as the original labels.

With ``task="auto"`` the column is

- classification when every cell is a whole number and there are at most 50 distinct ones, or
  when the cells are text (at most 50 distinct labels);
- regression when the cells are numbers otherwise.

A cell that does not fit the task the rest of the column shows is an error naming its line, not
a silent change of task: a stray ``0.5`` or a label held by one row only (a stray ``-1``) in a
column of 0/1 labels, a word in a column of numbers. So is a column with a single class. Setting
``task`` explicitly takes the column as it is (``"classification"``: every distinct value a
class; ``"regression"``: every cell must be a number).

>>> task, y, classes = target_values(["b", "a", "b", "c"], [2, 3, 4, 5], path="f.csv", column="t")
>>> task, y.tolist(), classes
('classification', [1, 0, 1, 2], ['a', 'b', 'c'])
"""

from __future__ import annotations

import csv
import os
from collections import Counter

import numpy as np

from .._registry import suggest
from ..errors import ConfigError, DataError

#: a column of whole numbers (or of text) with at most this many distinct values is a class label (task="auto")
AUTO_MAX_CLASSES = 50
#: at most this fraction of fractional values among whole-number labels are strays, not a numeric target
STRAY_FRACTION = 0.05
TASKS = ("auto", "classification", "regression")


def read_column_text(path, column: str) -> tuple[list[str], list[int]]:
    """The cells of one CSV column as stripped text, with the line each came from (blank lines skipped,
    as :func:`~deepnets.data.files.read_csv_table` skips them; call that first to check the rows)."""
    path = os.fspath(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader)]
        if column not in header:
            raise DataError(f"{path}: target column {column!r} not found{suggest(column, header)}; "
                            f"the columns are {header[:20]}")
        j = header.index(column)
        texts, lines = [], []
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            texts.append(row[j].strip())
            lines.append(reader.line_num)
    return texts, lines


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _label(v: float):
    """A numeric label as JSON keeps it: an int when whole, else the float."""
    return int(v) if v == round(v) and abs(v) < 2**53 else v


def _show(label) -> str:
    return repr(label) if isinstance(label, str) else f"{label:g}"


def target_values(texts: list[str], lines: list[int], *, path, column: str, task: str = "auto",
                  n_classes: int | None = None, classes: list | None = None, check=None, row: str = "line"):
    """``(task, y, classes)`` for the cells ``texts`` of a target column (``lines``: their line numbers).

    Args:
        task: ``"auto"``, ``"classification"`` or ``"regression"`` (see the module docstring).
        n_classes: declared classes: the labels must be the integers 0..n_classes−1 (class c is
            label c; classes never seen are kept).
        classes: a run's classes: every label must be one of them (class c is ``classes[c]``);
            for scoring a new file with a trained network.
        check: ``check(value, path, line, column, text)`` for a regression target's numbers.
        row: what ``lines`` number in the errors: ``"line"`` (a CSV's), ``"row"`` (an array's).

    Returns:
        the task, y (int64 class indices, or float64 values for regression) and the classes
        (None for regression).
    """
    path = os.fspath(path)
    if task not in TASKS:
        raise ConfigError(f"task must be one of {list(TASKS)}, got {task!r}")
    where = lambda i: f"{path}: {row} {lines[i]}, column {column!r}"  # noqa: E731
    empty = next((i for i, t in enumerate(texts) if not t), None)
    if empty is not None:
        raise DataError(f"{where(empty)}: an empty cell; every row needs a target")
    nums = [_number(t) for t in texts]
    if classes is not None:
        return "classification", _map_to(texts, nums, classes, where), list(classes)
    if task == "auto":
        task = _detect(texts, nums, where)
    if task == "regression":
        bad = next((i for i, v in enumerate(nums) if v is None), None)
        if bad is not None:
            raise DataError(f"{where(bad)}: {texts[bad]!r}, not a number (a regression target)")
        if check is not None:
            for i, v in enumerate(nums):
                check(v, path, lines[i], column, texts[i])
        return task, np.asarray(nums, dtype=np.float64), None
    numeric = all(v is not None for v in nums)
    keys = nums if numeric else texts
    if n_classes is not None:
        return task, _declared(keys, numeric, n_classes, where), list(range(n_classes))
    found = sorted(set(keys))
    if len(found) < 2:
        raise DataError(f"{path}: column {column!r} holds a single class ({_show(_label(found[0]) if numeric else found[0])} "
                        f"on all {len(keys)} rows, lines {lines[0]}..{lines[-1]}); classification needs two or more: "
                        f"check the target column, or declare n_classes")
    index = {k: c for c, k in enumerate(found)}
    y = np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))
    return task, y, [_label(k) for k in found] if numeric else found


def _detect(texts, nums, where) -> str:
    """The task the column shows; a cell that contradicts it raises, naming its line."""
    N = len(texts)
    words = [i for i, v in enumerate(nums) if v is None]
    if words and len(words) * 2 < N:   # mostly numbers: a word is a stray
        i = words[0]
        raise DataError(f"{where(i)}: {texts[i]!r} is not a number like the rest of the column; fix the row, "
                        f"or set data.params.task = \"classification\" to read every cell as a class label")
    if words:
        distinct = len(set(texts))
        if distinct > AUTO_MAX_CLASSES:
            raise DataError(f"{where(0)}: the column holds {distinct} distinct text labels, more than "
                            f"{AUTO_MAX_CLASSES} (an identifier, not a class?); set data.params.task = "
                            f"\"classification\" to train {distinct} classes anyway")
        _singleton(texts, where)
        return "classification"
    v = np.asarray(nums, dtype=np.float64)
    whole = v == np.round(v)
    n_whole_values = len(np.unique(v[whole]))
    fractional = np.nonzero(~whole)[0]
    if len(fractional) == 0 and n_whole_values <= AUTO_MAX_CLASSES:
        _singleton([_label(x) for x in v], where)
        return "classification"
    if 0 < len(fractional) <= STRAY_FRACTION * N and n_whole_values <= min(AUTO_MAX_CLASSES, 10):
        i = int(fractional[0])
        shown = ", ".join(f"{x:g}" for x in np.unique(v[whole])[:10])
        raise DataError(f"{where(i)}: {texts[i]} is not a whole number like the other labels ({shown}); fix the "
                        f"row, or set data.params.task = \"regression\" for a numeric target")
    return "regression"


def _singleton(keys, where) -> None:
    """A label held by one row only, among classes of several rows, is a stray (auto-detection only)."""
    counts = Counter(keys)
    if max(counts.values()) < 3:
        return
    i = next((i for i, k in enumerate(keys) if counts[k] == 1), None)
    if i is not None:
        others = ", ".join(f"{_show(k)}: {n} rows" for k, n in sorted(counts.items())[:10] if n > 1)
        raise DataError(f"{where(i)}: label {_show(keys[i])} is on this row only (the other classes: {others}); "
                        f"fix the row, or set data.params.task = \"classification\" to keep it as a class")


def _declared(keys, numeric: bool, n_classes: int, where) -> np.ndarray:
    """Labels that must be the integers 0..n_classes−1 (``n_classes`` declared)."""
    for i, k in enumerate(keys):
        if not numeric or not k == round(k) or k < 0:
            raise DataError(f"{where(i)}: class label {_show(k)} is not an integer in 0..{n_classes - 1} "
                            f"(n_classes = {n_classes} is declared)")
        if k >= n_classes:
            raise DataError(f"{where(i)}: class label {k:g} is out of range for {n_classes} classes "
                            f"(expected 0..{n_classes - 1})")
    return np.asarray(keys, dtype=np.int64)


def _map_to(texts, nums, classes: list, where) -> np.ndarray:
    """Labels mapped onto a run's ``classes`` (numbers by value, text exactly); an unknown one raises."""
    numeric = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in classes)
    index = {(float(c) if numeric else c): j for j, c in enumerate(classes)}
    y = np.empty(len(texts), dtype=np.int64)
    for i, (t, v) in enumerate(zip(texts, nums)):
        key = v if numeric else t
        if key is None or key not in index:
            shown = ", ".join(_show(c) for c in classes[:20])
            raise DataError(f"{where(i)}: label {t!r} is not one of the run's classes ({shown})")
        y[i] = index[key]
    return y


def describe_target(data) -> str:
    """One line on a dataset's target: the task, and the classes with their counts or the
    target's mean and standard deviation (what ``deepnets train`` prints before training)."""
    name = ", ".join(repr(t) for t in data.target_names) or "the target"
    if data.task == "classification":
        counts = np.bincount(data.y.numpy(), minlength=data.n_classes)
        labels = data.classes if data.classes is not None else list(range(len(counts)))
        shown = ", ".join(f"{_show(labels[c])} {int(n)}" for c, n in enumerate(counts[:20]))
        more = f", ... ({len(counts) - 20} more)" if len(counts) > 20 else ""
        return f"task: classification of {name}, {len(counts)} classes (label count): {shown}{more}"
    y = data.y.double().reshape(len(data.y), -1)
    stats = ", ".join(f"mean {float(m):.4g} sd {float(s):.4g}" for m, s in zip(y.mean(0), y.std(0, unbiased=False)))
    return f"task: regression of {name} over {len(y)} rows ({stats})"


__all__ = ["AUTO_MAX_CLASSES", "read_column_text", "target_values", "describe_target"]
