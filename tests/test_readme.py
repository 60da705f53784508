"""The README's Python examples run as written (in a temp folder, one after another)."""

import os
import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        scope: dict = {}
        for block in blocks:  # later blocks use the names earlier ones made, as a reader would
            exec(compile(block, str(README), "exec"), scope)
    finally:
        torch.set_num_threads(threads)
    assert scope["history"].history["val_accuracy"][-1] > 0.95
    assert os.path.isdir(tmp_path / "runs" / "readme-cnn" / "checkpoints")
