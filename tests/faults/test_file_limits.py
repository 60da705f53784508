"""The caps of ``deepnets.data.limits``: a file exactly at a cap is read, one unit past it is
refused with a message naming the file, the cap and how to raise it; caps are set by
``override``, by ``LIMITS`` and by ``[data.limits]``; run names stay inside ``run.out``; the
command line turns every refusal into one line and exit status 2."""

from __future__ import annotations

import gzip
import io
import pickle
import pickletools
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from deepnets.cli import main
from deepnets.config import apply_overrides, experiment_from_dict, experiment_from_file, loads_toml
from deepnets.data.cifar import read_cifar_batch
from deepnets.data.files import read_csv, read_npz
from deepnets.data.idx import read_idx
from deepnets.data.limits import LIMITS, override
from deepnets.data.safe_files import read_safetensors_header
from deepnets.errors import ConfigError, DataError


def _csv(path, columns: int, rows: int = 3):
    path.write_text(",".join(f"c{i}" for i in range(columns)) + "\n"
                    + "".join(",".join(str((r + i) % 2) for i in range(columns)) + "\n" for r in range(rows)))
    return path


def test_override_sets_and_puts_back():
    before = LIMITS.csv_columns
    with override(csv_columns=7):
        assert LIMITS.csv_columns == 7
    assert LIMITS.csv_columns == before
    with pytest.raises(ConfigError, match="unknown key data.limits.csv_colums; the caps are csv_bytes"):
        with override(csv_colums=7):
            pass
    with pytest.raises(ConfigError, match="data.limits.npz_bytes must be a positive integer, got -1"):
        with override(npz_bytes=-1):
            pass


def test_csv_columns_line_and_size_caps(tmp_path):
    path = _csv(tmp_path / "t.csv", 5)
    header_chars = len(path.read_text().splitlines()[0]) + 1  # with its newline
    with override(csv_columns=5, csv_line_chars=header_chars, csv_bytes=path.stat().st_size):
        assert read_csv(path, "c4").x.shape == (3, 4)
    with override(csv_columns=4), pytest.raises(DataError, match=r"t.csv: line 1: 5 columns, above the cap of 4 "
                                                                r"\(csv_columns; raise it with \[data.limits\]"):
        read_csv(path, "c4")
    with override(csv_line_chars=header_chars - 1), pytest.raises(DataError, match="t.csv: line 1: longer than the cap of 14 characters"):
        read_csv(path, "c4")
    with override(csv_bytes=path.stat().st_size - 1), pytest.raises(DataError, match="csv_bytes"):
        read_csv(path, "c4")


def test_csv_duplicate_and_missing_columns_still_named(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,a,c,c\n1,2,3,4,5\n1,2,3,4,5\n")
    with pytest.raises(DataError, match=r"duplicate column names \['a', 'c'\]"):
        read_csv(tmp_path / "d.csv", "b")


def _npz(path, x, y):
    buf = io.BytesIO()
    np.savez_compressed(buf, x=x, y=y)
    path.write_bytes(buf.getvalue())
    with zipfile.ZipFile(path) as zf:  # the cost the cap bounds: inflated members + float32 copies
        return sum(i.file_size for i in zf.infolist()) + 4 * (x.size + y.size)


def test_npz_cap_counts_inflated_bytes_and_the_float32_copy(tmp_path):
    x = np.arange(60, dtype=np.float64).reshape(20, 3)
    y = np.arange(20) % 2
    cost = _npz(tmp_path / "a.npz", x, y)
    with override(npz_bytes=cost):
        data = read_npz(tmp_path / "a.npz")
    assert torch.equal(data.x, torch.from_numpy(x.astype(np.float32))) and data.y.tolist() == y.tolist()
    with override(npz_bytes=cost - 1), pytest.raises(DataError, match=r"a.npz: .*as float32, above the cap of "
                                                                      rf"{cost - 1} \(npz_bytes"):
        read_npz(tmp_path / "a.npz")


def test_npz_bad_value_found_in_a_later_slice(tmp_path):
    x = np.zeros((70_000, 2), np.float64)
    x[69_999, 1] = np.inf
    _npz(tmp_path / "b.npz", x, np.zeros(70_000))
    with pytest.raises(DataError, match=r"array 'x', row 69999, column 1: inf is not a finite float32"):
        read_npz(tmp_path / "b.npz")
    x[69_999, 1] = 1e39  # finite in float64, not in float32
    _npz(tmp_path / "b.npz", x, np.zeros(70_000))
    with pytest.raises(DataError, match="row 69999, column 1"):
        read_npz(tmp_path / "b.npz")


def test_idx_size_cap_not_ratio(tmp_path):
    n = 3 << 20  # zeros: gzip inflates them about 1000-fold, which is no reason to refuse them
    path = tmp_path / "z.idx.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", n) + bytes(n), 9))
    with override(idx_bytes=n):
        out = read_idx(path)
    assert out.shape == (n,) and not out.any()
    with override(idx_bytes=n - 1), pytest.raises(DataError, match=r"above the cap of 3145727 bytes \(idx_bytes"):
        read_idx(path)
    be = tmp_path / "be.idx"  # big-endian int32, swapped in place
    be.write_bytes(bytes([0, 0, 0x0C, 1]) + struct.pack(">I3i", 3, -1, 2, 70000))
    assert read_idx(be).tolist() == [-1, 2, 70000] and read_idx(be).dtype.isnative


def test_cifar_opcode_cap(tmp_path):
    batch = {b"batch_label": b"t", b"labels": [1, 2, 3], b"data": np.zeros((3, 3072), np.uint8),
             b"filenames": [b"a", b"b", b"c"]}
    raw = pickle.dumps(batch, protocol=4)
    (tmp_path / "b").write_bytes(raw)
    ops = sum(1 for _ in pickletools.genops(raw))
    with override(pickle_ops=ops):
        assert read_cifar_batch(tmp_path / "b").labels.tolist() == [1, 2, 3]
    with override(pickle_ops=ops - 1), pytest.raises(DataError, match=rf"more than {ops - 1} opcodes.*pickle_ops"):
        read_cifar_batch(tmp_path / "b")


def test_safetensors_tensor_cap(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(st_save({f"t{i}": torch.zeros(2) for i in range(3)}))
    with override(safetensors_tensors=3):
        read_safetensors_header(path)
    with override(safetensors_tensors=2), pytest.raises(DataError, match="names 3 tensors, above the cap of 2"):
        read_safetensors_header(path)


@pytest.mark.parametrize("text, ok", [
    ("x = " + "[" * 32 + "]" * 32, True), ("x = " + "[" * 33 + "]" * 33, False),
    ("[" + ".".join(["a"] * 32) + "]", True), ("[" + ".".join(["a"] * 33) + "]", False),
    ("x = " + "{a = " * 32 + "1" + "}" * 32, True), ('"a"' + '."a"' * 32 + " = 1", False),
    ('x = "' + "." * 5000 + '"', True),  # dots inside a string are not key parts
    ("x = [" + ", ".join(["0.5"] * 200) + "]", True),  # nor are the dots of numbers
    ('x = """\n' + "a." * 100 + '"""', True), ("# " + "a." * 100, True),
])
def test_toml_depth_cap(text, ok):
    with override(toml_string_chars=10_000):
        if ok:
            loads_toml(text)
        else:
            with pytest.raises(ConfigError, match=r"(nested deeper than 32|more than 32 parts).*toml_depth"):
                loads_toml(text)


def test_toml_string_and_size_caps(tmp_path):
    assert loads_toml(f'n = "{"x" * 4096}"')["n"] == "x" * 4096
    with pytest.raises(ConfigError, match=r"t.toml: data.params.path is a string of 4097 characters"):
        loads_toml(f'[data.params]\npath = "{"x" * 4097}"', "t.toml")
    with pytest.raises(ConfigError, match=r"a key of 4097 characters in data"):
        loads_toml(f'[data]\n"{"k" * 4097}" = 1')
    path = tmp_path / "e.toml"
    path.write_text('[data]\nname = "xor"\n')
    with override(toml_bytes=path.stat().st_size):
        assert experiment_from_file(path).data.name == "xor"
    with override(toml_bytes=path.stat().st_size - 1), pytest.raises(ConfigError, match=rf"e.toml: {path.stat().st_size} bytes.*toml_bytes"):
        experiment_from_file(path)


@pytest.mark.parametrize("name", ["../../x", "/tmp/abs", "a/b", "..", "x" * 201, "é" * 101])
def test_run_name_must_be_one_folder_name(name):
    with pytest.raises(ConfigError, match=r"run.name (must be one folder name|is \d+ bytes long)"):
        experiment_from_dict({"run": {"name": name}})
    experiment_from_dict({"run": {"name": "x" * 200}})  # 200 bytes is fine


def test_values_in_messages_are_shortened(tmp_path):
    with pytest.raises(ConfigError) as info:
        experiment_from_dict({"train": {"epochs": "9" * 3000}})
    assert len(str(info.value)) < 200 and "(3000 characters)" in str(info.value)
    with pytest.raises(ConfigError, match=r"--set 'data.name': a value of 5000 characters, above the cap of 4096"):
        apply_overrides({}, ["data.name=" + "x" * 5000])
    (tmp_path / "n.csv").write_text(f"{'a' * 100_000},b\n1,2\n3,4\n")
    with pytest.raises(DataError) as info:
        read_csv(tmp_path / "n.csv", "c")
    assert len(str(info.value)) < 300 and "'aaaa" in str(info.value)


def _train(tmp_path, *args):
    return main(["train", *args, "--out", str(tmp_path / "out"), "--no-progress"])


def test_cli_refusals_are_one_line_exit_2_and_leave_nothing(tmp_path, capsys):
    wide = _csv(tmp_path / "wide.csv", 6)
    args = ["--set", "data.name=csv", "--set", f'data.params={{path="{wide}", target="c5"}}']
    assert _train(tmp_path, *args, "--set", "data.limits={csv_columns=5}") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepnets: error: ") and "\n" not in err and "csv_columns" in err
    assert _train(tmp_path, *args, "--set", "data.limits={csv_colums=5}") == 2
    assert "unknown key data.limits.csv_colums" in capsys.readouterr().err
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    assert _train(tmp_path, str(deep)) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "deep.toml: line 1: tables or arrays nested deeper than 32" in err
    for name in ("../../escaped", str(tmp_path / "abs"), "n" * 300):
        assert _train(tmp_path, "--set", "data.name=xor", "--set", f"run.name={name}") == 2
        assert "run.name" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "abs").exists()
    assert not (tmp_path.parent / "escaped").exists()


def test_cli_predict_refuses_a_hostile_csv(tmp_path, capsys):
    assert _train(tmp_path, "--set", "data.name=xor", "--set", "train.epochs=1", "--set", "run.plots=false",
                  "--set", "run.name=r") == 0
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    bad.write_text("x1," * 200_000 + "x2\n1,0\n")
    assert main(["predict", str(tmp_path / "out" / "r"), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "bad.csv: line 1: 200001 columns, above the cap of 100000 (csv_columns" in err
    with override(csv_columns=200_001):  # raised: the same file now fails on its duplicate names instead
        assert main(["predict", str(tmp_path / "out" / "r"), str(bad)]) == 2
    assert "duplicate column names ['x1']" in capsys.readouterr().err


def test_resume_reads_checkpoints_under_the_runs_data_limits(tmp_path, capsys):
    assert _train(tmp_path, "--set", "data.name=xor", "--set", "train.epochs=2", "--set", "run.plots=false",
                  "--set", "train.checkpoint.every_epochs=1", "--set", "run.name=r",
                  "--set", "data.limits={safetensors_tensors=10}") == 0  # writing is not capped, reading is
    run = tmp_path / "out" / "r"
    (run / "summary.json").unlink()  # as an interrupted run leaves it (a finished one has nothing to resume)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "step-000000002.safetensors: the header names" in err and "above the cap of 10" in err
    assert "safetensors_tensors" in err
    config = run / "config.toml"
    config.write_text(config.read_text().replace("safetensors_tensors = 10", "safetensors_tensors = 100000"))
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0


def test_default_run_name_from_a_long_file_name(tmp_path):
    from deepnets.experiment.folder import make_run_dir

    exp = experiment_from_dict({"run": {"out": str(tmp_path)}})
    path = Path(make_run_dir(exp, "/x/" + "é" * 200 + ".toml"))  # 400 bytes: too long for a folder name
    assert path.is_dir() and path.parent == tmp_path and len(path.name.encode()) <= 255
