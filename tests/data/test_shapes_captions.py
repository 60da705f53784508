"""The captions agree with the drawn pixels, read back by an independent parser (scipy labels)."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from deepnets.data.shapes_captions import COLOURS, CONVERSE, SHAPES, rasterise, shapes_captions
from deepnets.errors import ConfigError
from deepnets.seq.vocab import BOS, EOS

RGB = {tuple(v): k for k, v in COLOURS.items()}


def classify(component: np.ndarray) -> str:
    """Shape of one connected blob from its row widths alone (not from the generator's rules)."""
    widths = component.sum(axis=1)
    if (widths == widths.max()).all() and component.all():
        return "square"
    if (np.diff(widths) >= 0).all() and widths[-1] - widths[0] >= 3:
        return "triangle"                               # widens downwards: apex up
    peak = int(widths.argmax())                         # a disc: widens, then narrows again
    assert widths[-1] < widths.max() and (np.diff(widths[:peak + 1]) >= 0).all()
    assert (np.diff(widths[peak:]) <= 0).all()
    return "circle"


def read_image(image: torch.Tensor) -> list[dict]:
    """The shapes in an image: colour name, shape name, pixel rows and columns of each."""
    a = image.numpy()                                   # (3, S, S)
    lab, n = ndimage.label(a.sum(0) > 0, structure=np.ones((3, 3)))
    out = []
    for k, box in enumerate(ndimage.find_objects(lab)):
        mask = lab == k + 1
        colours = {tuple(a[:, i, j]) for i, j in zip(*np.nonzero(mask))}
        assert len(colours) == 1                        # one flat colour per blob
        rows, cols = np.nonzero(mask)
        out.append({"phrase": ["a", RGB[colours.pop()], classify(mask[box])], "rows": rows, "cols": cols})
    return out


def check_relation(a: dict, rel: tuple, b: dict) -> None:
    """a rel b holds on the pixels: separated along the axis, and that axis dominates."""
    dy = b["rows"].mean() - a["rows"].mean()
    dx = b["cols"].mean() - a["cols"].mean()
    if rel == ("above",):
        assert a["rows"].max() < b["rows"].min() and abs(dy) > abs(dx)
    elif rel == ("below",):
        assert a["rows"].min() > b["rows"].max() and abs(dy) > abs(dx)
    elif rel == ("left", "of"):
        assert a["cols"].max() < b["cols"].min() and abs(dx) > abs(dy)
    else:
        assert rel == ("right", "of")
        assert a["cols"].min() > b["cols"].max() and abs(dx) > abs(dy)


def test_captions_are_read_back_from_the_pixels():
    d = shapes_captions(600, 0, seed=4)
    n_two = 0
    for image, refs in zip(d.images["train"], d.references["train"]):
        blobs = read_image(image)
        phrases = [b["phrase"] for b in blobs]
        caption = refs[0]
        assert len(blobs) == (1 if len(caption) == 3 else 2)
        if len(blobs) == 1:
            assert refs == [phrases[0]]
            continue
        n_two += 1
        assert phrases[0] != phrases[1]                 # the noun phrases pick out one shape each
        subj, rel, obj = caption[:3], tuple(caption[3:-3]), caption[-3:]
        a, b = (blobs[phrases.index(p)] for p in (subj, obj))
        check_relation(a, rel, b)
        # the canonical subject comes first in (shape, colour) order; the converse is the other reference
        key = lambda p: (SHAPES.index(p[2]), list(COLOURS).index(p[1]))
        assert key(subj) < key(obj)
        assert refs[1] == obj + list(CONVERSE[rel]) + subj
    assert 400 < n_two < 500                            # p_two = 0.75


def test_every_relation_shape_and_colour_occurs():
    d = shapes_captions(400, 0, seed=0)
    words = {w for c in d.captions["train"] for w in c}
    assert set(SHAPES) | set(COLOURS) | {"above", "below", "left", "right"} <= words


def test_seeded_splits_are_reproducible_and_differ():
    d = shapes_captions(50, 20, n_valid=10, seed=3)
    e = shapes_captions(50, 20, n_valid=10, seed=3)
    assert {k: v.shape[0] for k, v in d.images.items()} == {"train": 50, "valid": 10, "test": 20}
    for split in d.images:
        assert torch.equal(d.images[split], e.images[split]) and d.captions[split] == e.captions[split]
    assert not torch.equal(d.images["train"][:20], d.images["test"])
    assert not torch.equal(shapes_captions(50, 20, seed=4).images["train"], d.images["train"])
    # the test split does not depend on how many training images were asked for
    assert torch.equal(shapes_captions(7, 20, seed=3).images["test"], d.images["test"])
    images, ids = d.tensors("test")
    assert images.shape == (20, 3, 32, 32) and (ids[:, 0] == BOS).all()
    for row, caption in zip(ids, d.captions["test"]):
        assert d.vocab.decode(row) == caption and EOS in row.tolist()


def test_rasterise_matches_closed_form_areas():
    """A large shape's pixel count approaches its area: pi r^2, 4 r^2, 2 r^2."""
    r = 20.0
    img = rasterise(torch.tensor([[0], [1], [2]]), torch.tensor([[0], [1], [2]]),
                    torch.full((3, 1, 2), 31.5), torch.full((3, 1), r), torch.ones(3, 1, dtype=torch.bool), 64)
    area = (img.sum(1) > 0).sum((1, 2)).float()
    expected = torch.tensor([np.pi * r * r, 4 * r * r, 2 * r * r])
    assert torch.allclose(area, expected, rtol=0.05)
    assert (img[0, 0] > 0).any() and not (img[0, 1:] > 0).any()     # red is (1, 0, 0)


def test_errors():
    with pytest.raises(ConfigError, match="size must be"):
        shapes_captions(2, 2, size=16)
    with pytest.raises(ConfigError, match="n_train must be"):
        shapes_captions(-1, 2)
    with pytest.raises(ConfigError, match="radius"):
        shapes_captions(2, 2, radius=(5.0, 2.0))
    with pytest.raises(ConfigError, match="unknown split 'dev'"):
        shapes_captions(2, 2).tensors("dev")
