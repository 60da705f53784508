"""Users' CSV and NPZ files: good ones load; every malformed one names file, row and column."""

import os
import zipfile

import numpy as np
import pytest
import torch

from deepnets.data import load_dataset, read_csv, read_npz
from deepnets.errors import DataError


def _csv(tmp_path, text, name="data.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_classification_and_regression(tmp_path):
    p = _csv(tmp_path, "a,b,label\n0,1,1\n1,0,1\n0,0,0\n1,1,0\n")
    d = read_csv(p, "label")
    assert d.task == "classification" and d.n_classes == 2 and d.feature_names == ["a", "b"]
    assert d.y.dtype == torch.int64 and d.y.tolist() == [1, 1, 0, 0]
    r = read_csv(_csv(tmp_path, "x,y\n0.5,1.25\n1.5,2.5\n2,3.75\n", "r.csv"), "y")
    assert r.task == "regression" and r.y.shape == (3, 1)
    # the registry path
    assert load_dataset("csv", path=str(p), target="label", task="classification").n_classes == 2


@pytest.mark.parametrize("text,match", [
    ("a,b,t\n1,2,0\n3,nan,1\n", r"line 3, column 'b': NaN"),
    ("a,b,t\n1,2,0\n3,inf,1\n", r"line 3, column 'b': infinite"),
    ("a,b,t\n1,2,0\n3,-Infinity,1\n", r"line 3, column 'b': infinite"),
    ("a,b,t\n1,2,0\n3,1e39,1\n", r"line 3, column 'b': 1e39 exceeds the float32 range"),
    ("a,b,t\n1,2,0\n3,4\n", r"line 3: expected 3 fields as in the header, got 2"),
    ("a,b,t\n1,2,0\n3,4,1,5\n", r"line 3: expected 3 fields"),
    ("a,b,t\n1,,0\n3,4,1\n", r"line 2, column 'b': an empty cell"),
    ("a,b,t\n1,x,0\n3,4,1\n", r"line 2, column 'b': 'x', not a number"),
    ("a,b,t\n1,2,0\n", r"1 data row\(s\); at least 2"),
    ("", r"the file is empty"),
])
def test_csv_errors_name_file_line_column(tmp_path, text, match):
    p = _csv(tmp_path, text)
    with pytest.raises(DataError, match=match) as err:
        read_csv(p, "t")
    assert str(p) in str(err.value)


def test_csv_missing_target_suggests(tmp_path):
    p = _csv(tmp_path, "a,b,label\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match="target column 'labels' not found; did you mean 'label'"):
        read_csv(p, "labels")


def test_csv_labels_out_of_range(tmp_path):
    p = _csv(tmp_path, "a,t\n1,0\n2,1\n3,4\n")
    with pytest.raises(DataError, match=r"line 4, column 't': class label 4 is out of range for 3 classes"):
        read_csv(p, "t", task="classification", n_classes=3)
    q = _csv(tmp_path, "a,t\n1,0\n2,-1\n3,1\n", "neg.csv")
    with pytest.raises(DataError, match=r"line 3, column 't': class label -1 is not an integer in 0..1 "
                                        r"\(n_classes = 2 is declared\)"):
        read_csv(q, "t", task="classification", n_classes=2)
    with pytest.raises(DataError, match="no such file"):
        read_csv(tmp_path / "absent.csv", "t")


def test_npz_loads_and_refuses_pickles(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x=np.random.rand(10, 3), y=np.arange(10) % 3)
    d = read_npz(p)
    assert d.x.shape == (10, 3) and d.n_classes == 3
    q = tmp_path / "obj.npz"
    np.savez(q, x=np.array([{"a": 1}] * 4, dtype=object), y=np.arange(4))
    with pytest.raises(DataError, match="pickles"):
        read_npz(q)
    bad = tmp_path / "nan.npz"
    np.savez(bad, x=np.array([[1.0], [np.nan]]), y=np.array([0, 1]))
    with pytest.raises(DataError, match=r"array 'x', row 1, column 0"):
        read_npz(bad)
    with pytest.raises(DataError, match="no array named 'target'; the archive holds \\['x', 'y'\\]"):
        read_npz(p, y_key="target")


def test_npz_member_count_checked_before_decompressing(tmp_path):
    p = tmp_path / "many.npz"
    with zipfile.ZipFile(p, "w") as zf:
        for i in range(100):
            zf.writestr(f"a{i}.npy", b"")
    with pytest.raises(DataError, match="the zip lists 100"):
        read_npz(p)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(os.urandom(100))
    with pytest.raises(DataError, match="expected an .npz"):
        read_npz(junk)


def test_npz_labels_are_mapped_like_a_csvs(tmp_path):
    """Text, 1-based and negative labels in an NPZ become classes 0..C-1 with the labels kept,
    as read_csv maps the same column (the independent answer: the CSV reader)."""
    x = np.random.default_rng(0).random((12, 2))
    cases = {"text": np.array(["cat", "dog", "emu"] * 4), "one_based": np.arange(12) % 3 + 1,
             "negative": np.array([-1, 1] * 6), "floats": (np.arange(12) % 2).astype(float) * 2 + 5}
    for name, y in cases.items():
        p, c = tmp_path / f"{name}.npz", tmp_path / f"{name}.csv"
        np.savez(p, x=x, y=y)
        c.write_text("a,b,t\n" + "\n".join(f"{r[0]},{r[1]},{v}" for r, v in zip(x.tolist(), y.tolist())))
        d, e = read_npz(p), read_csv(c, "t")
        assert d.task == e.task == "classification", name
        assert d.y.tolist() == e.y.tolist() and d.classes == e.classes and d.n_classes == e.n_classes, name
    assert read_npz(tmp_path / "one_based.npz").classes == [1, 2, 3]
    np.savez(tmp_path / "r.npz", x=x, y=np.array(["a"] * 12))
    with pytest.raises(DataError, match="single class"):
        read_npz(tmp_path / "r.npz")
    np.savez(tmp_path / "t.npz", x=x, y=np.array(["a", "b"] * 6))
    with pytest.raises(DataError, match="regression target must be numbers"):
        read_npz(tmp_path / "t.npz", task="regression")
    np.savez(tmp_path / "n.npz", x=x, y=np.arange(12) % 3 + 1)
    with pytest.raises(DataError, match=r"n.npz: row 2, column 'y'.*class label 3"):
        read_npz(tmp_path / "n.npz", n_classes=3)
