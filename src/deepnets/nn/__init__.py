"""Layers and small models."""

from .mlp import MLP, xor_step_network

__all__ = ["MLP", "xor_step_network"]
