"""Which data file a run was trained on: its absolute path and SHA-256, kept in ``RUN/data.json``.

A run folder then stands alone: ``evaluate``, ``relevance`` and ``--resume`` find the file from
any working directory, and notice when it changed. Evaluating a changed file warns (the scores
are then of the new contents, on a split of them); resuming on one is refused (the rest of the
training would see other data than its start).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings

from ..atomic import write_atomic
from ..errors import DataError

DATA_RECORD = "data.json"


def data_file(exp) -> str | None:
    """The data file an experiment reads (``data.params.path``), or None for a generated or bundled dataset."""
    path = exp.data.params.get("path") if isinstance(exp.data.params, dict) else None
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) else None


def with_absolute_path(exp):
    """The experiment with ``data.params.path`` made absolute (against the working directory)."""
    path = data_file(exp)
    if path is None or os.path.isabs(path):
        return exp
    params = {**exp.data.params, "path": os.path.abspath(path)}
    return dataclasses.replace(exp, data=dataclasses.replace(exp.data, params=params))


def sha256_file(path, *, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, read in chunks (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def record_data(run: str, exp) -> dict | None:
    """Write ``RUN/data.json`` (``{"path", "sha256", "bytes"}``) for the experiment's data file."""
    path = data_file(exp)
    if path is None or not os.path.isfile(path):
        return None
    record = {"path": os.path.abspath(path), "sha256": sha256_file(path), "bytes": os.path.getsize(path)}
    write_atomic(os.path.join(run, DATA_RECORD), json.dumps(record, indent=2).encode())
    return record


def check_data(run, *, resume: bool = False) -> None:
    """Compare the data file with what ``RUN/data.json`` recorded: a missing or changed file is an
    error for ``resume``, a warning otherwise (nothing recorded: nothing to check)."""
    record_path = os.path.join(os.fspath(run), DATA_RECORD)
    if not os.path.isfile(record_path):
        return
    with open(record_path, encoding="utf-8") as fh:
        record = json.load(fh)
    path = record["path"]
    if not os.path.isfile(path):
        raise DataError(f"{path}: the data file run {os.fspath(run)} was trained on is gone; put it back "
                        f"(SHA-256 {record['sha256'][:12]}...)")
    now = sha256_file(path)
    if now == record["sha256"]:
        return
    what = f"{path}: the data file changed since run {os.fspath(run)} was trained (SHA-256 {record['sha256'][:12]}... then, {now[:12]}... now)"
    if resume:
        raise DataError(f"{what}; resuming would train on other data: restore the file or start a new run")
    warnings.warn(f"{what}; the scores are of its new contents", stacklevel=2)


__all__ = ["DATA_RECORD", "data_file", "with_absolute_path", "sha256_file", "record_data", "check_data"]
