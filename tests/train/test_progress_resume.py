"""The progress bar of a resumed run counts on from the epoch it resumes at."""

import io

import torch

import deepnets
from deepnets.train.callbacks import Checkpointer, ProgressBar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _fit(run, epochs, out, resume):
    x, y = torch.randn(16, 2, generator=torch.Generator().manual_seed(0)), torch.zeros(16, 1)
    # the progress bar first, so it begins before the checkpointer puts the run back
    cbs = [ProgressBar(epochs, file=out, interval=1e9), Checkpointer(run, resume=resume)]
    return deepnets.fit(torch.nn.Linear(2, 1), (x, y), epochs=epochs, callbacks=cbs)


def test_plain_lines_after_resume_count_from_the_resumed_epoch(tmp_path):
    _fit(tmp_path, 3, io.StringIO(), False)
    out = io.StringIO()
    h = _fit(tmp_path, 6, out, True)
    assert h.epoch == [0, 1, 2, 3, 4, 5]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("epoch 4/6") and lines[-1].startswith("epoch 6/6"), lines
    assert len(lines) == 2  # the first epoch run and the last; the interval allows nothing between


def test_terminal_bar_after_resume_starts_at_the_resumed_epoch(tmp_path):
    _fit(tmp_path, 2, io.StringIO(), False)
    out = _Terminal()
    _fit(tmp_path, 5, out, True)
    text = out.getvalue()
    assert "2/5" in text and "5/5" in text and "0/5" not in text and "1/5" not in text, text
