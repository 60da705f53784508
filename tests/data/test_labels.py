"""A CSV target column as it comes: labels of any kind become classes 0..C−1 in a stated order; a
cell that contradicts the detected task, or a single class, is an error naming the line."""

import pytest
import torch

from deepnets.data import read_csv
from deepnets.data.labels import describe_target, target_values
from deepnets.errors import DataError


def _csv(tmp_path, labels, name="d.csv"):
    p = tmp_path / name
    p.write_text("x,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(labels)))
    return p


@pytest.mark.parametrize("labels,classes", [
    (["setosa", "virginica", "versicolor"] * 4, ["setosa", "versicolor", "virginica"]),   # text, by characters
    ([1, 2, 3] * 4, [1, 2, 3]),                                                          # 1-based: no empty class 0
    ([3, 70, 9] * 4, [3, 9, 70]),                                                        # sparse, by value
    ([-1, 1] * 4, [-1, 1]),                                                              # ±1 labels
    (["true", "false"] * 4, ["false", "true"]),                                           # booleans
    (["1.0", "2"] * 4, [1, 2]),                                                           # one number, two spellings
])
def test_labels_of_any_kind_map_to_classes_in_order(tmp_path, labels, classes):
    d = read_csv(_csv(tmp_path, labels), "label")
    assert d.task == "classification" and d.classes == classes and d.n_classes == len(classes)
    # independent answer: each row's class is its label's position in the stated order
    key = [float(v) if isinstance(classes[0], int) else str(v) for v in labels]
    order = [float(c) if isinstance(c, int) else c for c in classes]
    assert d.y.tolist() == [order.index(k) for k in key]
    assert d.n_outputs == (1 if len(classes) == 2 else len(classes))


def test_the_first_line_of_a_contradicting_cell_is_named(tmp_path):
    zero_one = [0, 1] * 20
    with pytest.raises(DataError, match=r"line 42, column 'label': label -1 is on this row only .*"
                                        r"0: 20 rows, 1: 20 rows.*task = \"classification\""):
        read_csv(_csv(tmp_path, zero_one + [-1]), "label")
    with pytest.raises(DataError, match=r"line 42, column 'label': 0.5 is not a whole number like the other "
                                        r"labels \(0, 1\).*task = \"regression\""):
        read_csv(_csv(tmp_path, zero_one + [0.5]), "label")
    with pytest.raises(DataError, match=r"line 3, column 'label': 'n/a' is not a number like the rest"):
        read_csv(_csv(tmp_path, [0.25, "n/a"] + [i / 7 for i in range(40)]), "label")
    with pytest.raises(DataError, match=r"line 4, column 'label': an empty cell"):
        read_csv(_csv(tmp_path, ["a", "b", ""]), "label")


def test_an_explicit_task_takes_the_column_as_it_is(tmp_path):
    p = _csv(tmp_path, [0, 1] * 20 + [-1])
    d = read_csv(p, "label", task="classification")
    assert d.classes == [-1, 0, 1] and d.y[-1] == 0 and d.n_classes == 3
    q = _csv(tmp_path, [0, 1] * 20 + [0.5], "q.csv")
    r = read_csv(q, "label", task="regression")
    assert r.task == "regression" and r.y.shape == (41, 1) and float(r.y[-1, 0]) == 0.5
    with pytest.raises(DataError, match=r"line 2, column 'label': 'a', not a number \(a regression target\)"):
        read_csv(_csv(tmp_path, ["a", "b"], "t.csv"), "label", task="regression")


def test_a_single_class_is_an_error_unless_the_classes_are_declared(tmp_path):
    p = _csv(tmp_path, ["yes"] * 5)
    with pytest.raises(DataError, match=r"column 'label' holds a single class \('yes' on all 5 rows, lines 2..6\)"):
        read_csv(p, "label")
    with pytest.raises(DataError, match="single class"):
        read_csv(p, "label", task="classification")
    d = read_csv(_csv(tmp_path, [1] * 5, "one.csv"), "label", n_classes=2)
    assert d.classes == [0, 1] and d.y.tolist() == [1] * 5


def test_a_missing_target_is_named_when_the_features_are_given(tmp_path):
    p = _csv(tmp_path, [0, 1, 0, 1])
    with pytest.raises(DataError, match="target column 'lable' not found; did you mean 'label'"):
        read_csv(p, "lable", features=["x"])


def test_whole_numbers_with_many_values_are_a_regression_target(tmp_path):
    d = read_csv(_csv(tmp_path, list(range(60))), "label")
    assert d.task == "regression" and d.classes is None
    with pytest.raises(DataError, match="60 distinct text labels, more than 50"):
        read_csv(_csv(tmp_path, [f"id{i}" for i in range(60)], "ids.csv"), "label")


def test_a_runs_classes_map_a_new_file_and_refuse_an_unknown_label():
    task, y, classes = target_values(["b", "a"], [2, 3], path="f.csv", column="t", classes=["a", "b", "c"])
    assert (task, y.tolist(), classes) == ("classification", [1, 0], ["a", "b", "c"])
    task, y, _ = target_values(["3", "1.0"], [2, 3], path="f.csv", column="t", classes=[1, 3])
    assert y.tolist() == [1, 0]
    with pytest.raises(DataError, match=r"f.csv: line 3, column 't': label 'z' is not one of the run's classes \('a', 'b'\)"):
        target_values(["a", "z"], [2, 3], path="f.csv", column="t", classes=["a", "b"])


def test_describe_target_gives_the_task_the_classes_and_their_counts(tmp_path):
    d = read_csv(_csv(tmp_path, ["b", "a", "b", "b"] * 2), "label")
    assert describe_target(d) == "task: classification of 'label', 2 classes (label count): 'a' 2, 'b' 6"
    r = read_csv(_csv(tmp_path, [1.5, 2.5, 3.5, 4.5], "r.csv"), "label")
    y = torch.tensor([1.5, 2.5, 3.5, 4.5], dtype=torch.float64)
    assert describe_target(r) == (f"task: regression of 'label' over 4 rows "
                                  f"(mean {float(y.mean()):.4g} sd {float(y.std(unbiased=False)):.4g})")


def test_an_unknown_task_is_named(tmp_path):
    from deepnets.errors import ConfigError

    with pytest.raises(ConfigError, match="task must be 'auto', 'classification' or 'regression', got 'regresion'"):
        read_csv(_csv(tmp_path, [1.5, 2.5]), ["label"], task="regresion")
