"""Image captioning: a CNN encoder whose features start (and optionally feed) an LSTM decoder.

With f = CNN(x) the image features and y_0 = <bos>, the decoder is a language model conditioned
on f (Vinyals et al. 2015 start it from the image; Xu et al. 2015 initialise its state from it):

    f            = ReLU(W_f vec(conv_blocks(x)))                 image features (F)
    z_0, c_0     = tanh(W_zf f + b_z), W_cf f + b_c              one pair per LSTM layer
    x_t          = E y_{t-1}            or [E y_{t-1}; f] with ``feed_features=True``
    z_t, c_t     = LSTM(x_t, z_{t-1}, c_{t-1})                   the peephole LSTM of deepnets.nn.recurrent.lstm
    p(y_t | y_<t, x) = softmax(W_yz z_t + b_y)

Training is teacher forcing: the true caption y_0..y_{T-1} goes in and the loss is the
cross-entropy of y_1..y_T, ``<pad>`` positions ignored. Decoding runs the same LSTM one step at a
time behind :mod:`deepnets.seq.decode`'s ``step(prefix, state)``; the state is batch-first
({"z": (N, D, H), "c": (N, D, H), "f": (N, F)}) so beam search reorders it along dimension 0.

The encoder keeps where things are: no global pooling, the last feature map is flattened, since
"above" and "left of" are read from positions. Its blocks are the zoo's conv-BN-ReLU unit, each
followed by 2x2 max pooling (S -> S/2). The LSTM's forget-gate bias starts at 1 (Gers,
Schmidhuber & Cummins 2000), so the image's state is remembered from the first update.

>>> import torch
>>> m = Captioner(12, image_size=32, generator=torch.Generator().manual_seed(0)).eval()
>>> m(torch.rand(2, 3, 32, 32), torch.ones(2, 5, dtype=torch.long)).shape
torch.Size([2, 5, 12])
>>> m.caption(torch.rand(2, 3, 32, 32), max_len=4, beam_size=3).shape[0]
2

References: Vinyals, Toshev, Bengio & Erhan (2015), "Show and tell: a neural image caption
generator", CVPR; Xu et al. (2015), "Show, attend and tell", ICML (state initialised from the
image); Karpathy & Fei-Fei (2015), "Deep visual-semantic alignments for generating image
descriptions", CVPR.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..nn.conv import ConvBNReLU
from ..nn.recurrent.base import check_sizes
from ..nn.recurrent.lstm import LSTM
from ..seq.decode import beam_search, greedy_decode
from ..seq.vocab import EOS, PAD


class ImageEncoder(nn.Sequential):
    """Conv-BN-ReLU + 2x2 max-pool blocks, then flatten and a ReLU layer: (N, C, S, S) -> (N, F)."""

    def __init__(self, in_channels: int, image_size: int, channels: Sequence[int], feature_size: int):
        layers: list[nn.Module] = []
        c_in, s = in_channels, image_size
        for c in channels:
            layers += [ConvBNReLU(c_in, c, 3, padding=1), nn.MaxPool2d(2)]
            c_in, s = c, s // 2
        if s < 1:
            raise ConfigError(f"image_size {image_size} is too small for {len(channels)} 2x2 poolings")
        layers += [nn.Flatten(), nn.Linear(c_in * s * s, feature_size), nn.ReLU()]   # (N, C*s*s) -> (N, F)
        super().__init__(*layers)


class Captioner(nn.Module):
    """CNN encoder + LSTM decoder over caption tokens (module docstring for the equations).

    Args:
        vocab_size: V, including the four specials of :class:`~deepnets.seq.vocab.Vocab`.
        image_size: S of the square (N, C, S, S) input. Default 32.
        in_channels: C. Default 3.
        channels: output channels of the conv blocks, one block per entry. Default (16, 32, 64).
        feature_size: F. Default 128.
        embed_size: E, the token embedding size. Default 32.
        hidden_size: H of the LSTM. Default 128.
        num_layers: D, stacked LSTM layers. Default 1.
        peepholes: the lecture's peephole LSTM (True) or the plain one. Default True.
        feed_features: also concatenate f to every decoder input. Default False.
        generator: seeds every initialisation (the same seed gives the same weights).
    """

    def __init__(self, vocab_size: int, *, image_size: int = 32, in_channels: int = 3,
                 channels: Sequence[int] = (16, 32, 64), feature_size: int = 128, embed_size: int = 32,
                 hidden_size: int = 128, num_layers: int = 1, peepholes: bool = True,
                 feed_features: bool = False, generator: torch.Generator | None = None):
        super().__init__()
        check_sizes(vocab_size=vocab_size, image_size=image_size, in_channels=in_channels,
                    feature_size=feature_size, embed_size=embed_size, hidden_size=hidden_size,
                    num_layers=num_layers)
        if vocab_size <= EOS:
            raise ConfigError(f"vocab_size must exceed the specials (<pad>, <bos>, <eos>), got {vocab_size}")
        if len(channels) == 0:
            raise ConfigError("channels must name at least one conv block, got ()")
        check_sizes(**{f"channels[{i}]": c for i, c in enumerate(channels)})
        self.vocab_size, self.image_size, self.in_channels = vocab_size, image_size, in_channels
        self.hidden_size, self.num_layers, self.feed_features = hidden_size, num_layers, feed_features
        # Every layer is drawn under a forked global RNG seeded from `generator`: the same generator
        # state gives the same weights, and the caller's global RNG is left as it was.
        seed = None if generator is None else int(torch.randint(2 ** 62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self.encoder = ImageEncoder(in_channels, image_size, channels, feature_size)
            self.init_state = nn.Linear(feature_size, 2 * num_layers * hidden_size)   # f -> (z_0, c_0)
            self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
            self.lstm = LSTM(embed_size + (feature_size if feed_features else 0), hidden_size,
                             num_layers, peepholes=peepholes, batch_first=True, forget_bias=1.0)
            self.out = nn.Linear(hidden_size, vocab_size)

    def _check_images(self, images: Tensor) -> None:
        want = (self.in_channels, self.image_size, self.image_size)
        if not isinstance(images, Tensor) or images.dim() != 4 or tuple(images.shape[1:]) != want:
            got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise DataError(f"expected images of shape (N, {want[0]}, {want[1]}, {want[2]}), got {got}")

    def start(self, images: Tensor) -> dict[str, Tensor]:
        """The decoder state before <bos>: {"z", "c": (N, D, H), "f": (N, F)}, batch-first."""
        self._check_images(images)
        f = self.encoder(images)                                            # (N, F)
        D, H = self.num_layers, self.hidden_size
        zc = self.init_state(f).view(-1, 2, D, H)                           # (N, 2, D, H)
        return {"z": torch.tanh(zc[:, 0]), "c": zc[:, 1], "f": f}

    def _inputs(self, tokens: Tensor, f: Tensor) -> Tensor:
        x = self.embed(tokens)                                              # (N, T, E)
        if self.feed_features:
            x = torch.cat([x, f[:, None].expand(-1, x.shape[1], -1)], dim=2)   # (N, T, E + F)
        return x

    def _run(self, tokens: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        z0 = state["z"].transpose(0, 1).contiguous()                        # (N, D, H) -> (D, N, H)
        c0 = state["c"].transpose(0, 1).contiguous()
        Z, (z, c) = self.lstm(self._inputs(tokens, state["f"]), (z0, c0))    # Z (N, T, H)
        return self.out(Z), {"z": z.transpose(0, 1), "c": c.transpose(0, 1), "f": state["f"]}

    def forward(self, images: Tensor, tokens: Tensor) -> Tensor:
        """Teacher-forced logits (N, T, V) of y_1..y_T given images and inputs y_0..y_{T-1} (N, T)."""
        if not isinstance(tokens, Tensor) or tokens.dim() != 2 or tokens.shape[0] != images.shape[0]:
            got = tuple(tokens.shape) if isinstance(tokens, Tensor) else type(tokens).__name__
            raise DataError(f"expected tokens of shape ({images.shape[0]}, T), got {got}")
        return self._run(tokens, self.start(images))[0]

    def step(self, prefix: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """One decoding step for :mod:`deepnets.seq.decode`: logits (N, V) of the token after prefix."""
        logits, state = self._run(prefix[:, -1:], state)                     # reads only the last token
        return logits[:, 0], state

    def loss(self, images: Tensor, captions: Tensor) -> Tensor:
        """Mean cross-entropy per non-pad token of captions framed <bos> ... <eos> (N, T + 2)."""
        logits = self(images, captions[:, :-1])                             # (N, T + 1, V)
        return nn.functional.cross_entropy(logits.reshape(-1, self.vocab_size),
                                           captions[:, 1:].reshape(-1), ignore_index=PAD)

    @torch.no_grad()
    def caption(self, images: Tensor, *, max_len: int = 20, beam_size: int = 1,
                length_penalty: float = 0.0) -> Tensor:
        """Token ids (N, L) of each image's caption, greedy (beam_size 1) or by beam search."""
        state = self.start(images)
        if beam_size == 1:
            return greedy_decode(self.step, state, batch_size=images.shape[0], max_len=max_len,
                                 device=images.device)[0]
        return beam_search(self.step, state, batch_size=images.shape[0], beam_size=beam_size,
                           max_len=max_len, length_penalty=length_penalty, device=images.device)[0]
