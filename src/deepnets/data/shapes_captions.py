"""An offline captioning task: images of one or two coloured shapes and the sentence they show.

Each image is S x S RGB on black with one shape (``a red circle``) or two
(``a red circle above a blue square``). Shapes are circles, squares and upward triangles of
half-size r; colours are pure RGB primaries and mixtures. Every caption is fixed by the pixels:

- two shapes never share both shape and colour, so each noun phrase names one shape;
- the relation is read along the *dominant* axis of the centre offset (dx, dy): the shapes are
  placed only where that axis is clear, |d_major| >= 2 |d_minor|, and where their extents along
  it are separated by at least ``gap`` pixels, so "above" never could also be "left of";
- of the two equivalent sentences ("A above B" = "B below A") the caption names first the shape
  that comes first in (SHAPES, COLOURS) order; the other sentence is kept as a second reference
  for BLEU and exact match (:attr:`CaptionData.references`).

Rasterisation is whole-batch tensor ops on a pixel-centre grid: circle (x-cx)^2 + (y-cy)^2 <= r^2,
square max(|x-cx|, |y-cy|) <= r, triangle (apex up) y <= cy + r and |x-cx| <= (y - cy + r)/2.
Splits come from independent seeded streams (``numpy.random.default_rng([seed, split])``).

>>> d = shapes_captions(4, 2, seed=0)
>>> d.images["train"].shape, len(d.captions["test"])
(torch.Size([4, 3, 32, 32]), 2)
>>> " ".join(d.captions["train"][0])
'a magenta circle right of a blue square'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError
from ..seq.vocab import Vocab

SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0),
           "yellow": (1.0, 1.0, 0.0), "magenta": (1.0, 0.0, 1.0), "cyan": (0.0, 1.0, 1.0)}
#: relation -> its converse, for the second reference ("A above B" = "B below A")
CONVERSE = {("above",): ("below",), ("below",): ("above",),
            ("left", "of"): ("right", "of"), ("right", "of"): ("left", "of")}
SPLITS = ("train", "valid", "test")


def _circle(x: Tensor, y: Tensor, cx: Tensor, cy: Tensor, r: Tensor) -> Tensor:
    return (x - cx) ** 2 + (y - cy) ** 2 <= r ** 2


def _square(x: Tensor, y: Tensor, cx: Tensor, cy: Tensor, r: Tensor) -> Tensor:
    return torch.maximum((x - cx).abs(), (y - cy).abs()) <= r


def _triangle(x: Tensor, y: Tensor, cx: Tensor, cy: Tensor, r: Tensor) -> Tensor:
    # apex at (cx, cy - r), base from (cx - r, cy + r) to (cx + r, cy + r): half-width grows by 1/2 per row
    return (y <= cy + r) & ((x - cx).abs() <= (y - cy + r) / 2)


#: shape name -> its inside test on broadcast pixel grids (x, y) and parameters (cx, cy, r)
RASTERS = {"circle": _circle, "square": _square, "triangle": _triangle}


def rasterise(shape: Tensor, colour: Tensor, centre: Tensor, radius: Tensor, present: Tensor,
              size: int) -> Tensor:
    """Draw K shape slots into N images: (N, 3, size, size) float32 in [0, 1], black background.

    Args:
        shape: (N, K) indices into :data:`SHAPES`.
        colour: (N, K) indices into :data:`COLOURS`.
        centre: (N, K, 2) float (cx, cy) in pixels; pixel (i, j) has centre (x, y) = (j, i).
        radius: (N, K) float half-size r.
        present: (N, K) bool, whether slot k holds a shape. Later slots paint over earlier ones.
    """
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                          torch.arange(size, dtype=torch.float32), indexing="ij")   # (S, S) each
    x, y = x[None], y[None]                                                        # (1, S, S)
    rgb = torch.tensor(list(COLOURS.values()), dtype=torch.float32)                 # (C, 3)
    image = torch.zeros(shape.shape[0], 3, size, size)                              # (N, 3, S, S)
    for k in range(shape.shape[1]):
        cx, cy = centre[:, k, 0, None, None], centre[:, k, 1, None, None]           # (N, 1, 1)
        r = radius[:, k, None, None]
        inside = torch.zeros(shape.shape[0], size, size, dtype=torch.bool)           # (N, S, S)
        for s, name in enumerate(SHAPES):
            inside |= (shape[:, k] == s)[:, None, None] & RASTERS[name](x, y, cx, cy, r)
        inside &= present[:, k, None, None]
        paint = rgb[colour[:, k]][:, :, None, None]                                  # (N, 3, 1, 1)
        image = torch.where(inside[:, None], paint, image)
    return image


def relation(c_a: np.ndarray, c_b: np.ndarray, r_a: float, r_b: float, gap: float) -> tuple[str, ...] | None:
    """The relation of shape a to shape b, or None where the placement would be ambiguous.

    The dominant axis of d = c_b - c_a (image y grows downwards) must hold at least twice the
    other, and the extents along it (centre +- r) must be apart by at least ``gap`` pixels.
    """
    dx, dy = c_b - c_a
    if abs(dx) >= 2 * abs(dy) and abs(dx) >= r_a + r_b + gap:
        return ("left", "of") if dx > 0 else ("right", "of")
    if abs(dy) >= 2 * abs(dx) and abs(dy) >= r_a + r_b + gap:
        return ("above",) if dy > 0 else ("below",)
    return None


@dataclass
class CaptionData:
    """Images, captions and references per split, with the caption vocabulary.

    ``scenes[split]`` holds what was drawn (shape, colour, centre, radius, present; slot 0 is the
    caption's subject), so tests can check each caption against its pixels.
    """

    vocab: Vocab
    images: dict[str, Tensor]                      # split -> (N, 3, S, S)
    captions: dict[str, list[list[str]]]           # split -> canonical caption tokens
    references: dict[str, list[list[list[str]]]]   # split -> [canonical, converse] (or [canonical])
    scenes: dict[str, dict[str, Tensor]]

    def tensors(self, split: str) -> tuple[Tensor, Tensor]:
        """Images (N, 3, S, S) and caption ids framed by <bos> ... <eos>, padded (N, T + 2)."""
        if split not in self.images:
            raise ConfigError(f"unknown split {split!r}: expected one of {list(self.images)}")
        ids = [self.vocab.encode(c, bos=True, eos=True, unknown="error") for c in self.captions[split]]
        return self.images[split], self.vocab.pad_batch(ids)[0]


def _phrase(shape: int, colour: int) -> list[str]:
    return ["a", list(COLOURS)[colour], SHAPES[shape]]


def _scenes(n: int, rng: np.random.Generator, *, size: int, radius: tuple[float, float],
            p_two: float, gap: float):
    """Sample n scenes by rejection: returns arrays for :func:`rasterise` and the references."""
    n_col = len(COLOURS)
    shape = np.zeros((n, 2), dtype=np.int64)
    colour = np.zeros((n, 2), dtype=np.int64)
    centre = np.zeros((n, 2, 2))
    rad = np.zeros((n, 2))
    present = np.zeros((n, 2), dtype=bool)
    refs = []
    for i in range(n):
        two = rng.random() < p_two
        kinds = rng.choice(len(SHAPES) * n_col, size=2 if two else 1, replace=False)
        kinds.sort()                                     # subject first: (SHAPES, COLOURS) order
        r = rng.uniform(*radius, size=len(kinds))
        while True:
            c = np.stack([rng.uniform(ri, size - 1 - ri, size=2) for ri in r])   # (k, 2) inside the frame
            rel = relation(c[0], c[1], r[0], r[1], gap) if two else ()
            if rel is not None:
                break
        k = len(kinds)
        shape[i, :k], colour[i, :k] = kinds // n_col, kinds % n_col
        centre[i, :k], rad[i, :k], present[i, :k] = c, r, True
        a = _phrase(shape[i, 0], colour[i, 0])
        if two:
            b = _phrase(shape[i, 1], colour[i, 1])
            refs.append([a + list(rel) + b, b + list(CONVERSE[rel]) + a])
        else:
            refs.append([a])
    return shape, colour, centre, rad, present, refs


def shapes_captions(n_train: int, n_test: int, *, n_valid: int = 0, size: int = 32,
                    radius: tuple[float, float] = (3.5, 6.0), p_two: float = 0.75, gap: float = 2.0,
                    seed: int = 0) -> CaptionData:
    """Generate captioned shape images for train/valid/test from independent seeded streams.

    Args:
        n_train, n_test: images per split; ``n_valid`` optional validation images. Default 0.
        size: S, the image side in pixels. Default 32.
        radius: (low, high) of the uniform half-size r. Default (3.5, 6.0).
        p_two: probability of a two-shape image. Default 0.75.
        gap: least pixel gap between the shapes along the relation's axis. Default 2.
        seed: the same seed gives the same images, bit for bit.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test), ("n_valid", n_valid)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{name} must be an int >= 0, got {value!r}")
    lo, hi = radius
    if not 1.0 <= lo <= hi:
        raise ConfigError(f"radius must be (low, high) with 1 <= low <= high, got {radius!r}")
    if not isinstance(size, int) or size < 2 * (2 * hi + gap) + 2:
        raise ConfigError(f"size must be an int of at least {int(2 * (2 * hi + gap) + 2)} pixels so two "
                          f"shapes of half-size {hi} fit apart, got {size!r}")
    if not 0.0 <= p_two <= 1.0 or gap < 0:
        raise ConfigError(f"need 0 <= p_two <= 1 and gap >= 0, got p_two={p_two!r}, gap={gap!r}")
    counts = {"train": n_train, "valid": n_valid, "test": n_test}
    images, captions, references, scenes = {}, {}, {}, {}
    for code, split in enumerate(SPLITS):
        if split == "valid" and n_valid == 0:
            continue
        rng = np.random.default_rng([seed, code])
        shape, colour, centre, rad, present, refs = _scenes(counts[split], rng, size=size,
                                                            radius=radius, p_two=p_two, gap=gap)
        scene = {"shape": torch.from_numpy(shape), "colour": torch.from_numpy(colour),
                 "centre": torch.from_numpy(centre).float(), "radius": torch.from_numpy(rad).float(),
                 "present": torch.from_numpy(present)}
        images[split] = rasterise(**scene, size=size)
        captions[split] = [r[0] for r in refs]
        references[split] = refs
        scenes[split] = scene
    words = ["a", *COLOURS, *SHAPES, "above", "below", "left", "right", "of"]
    return CaptionData(Vocab(words), images, captions, references, scenes)
