"""deepnets: the methods of a classic course on multilayer perceptrons and deep networks, on PyTorch."""

from .errors import CheckpointError, ConfigError, DataError, DeepnetsError, TrainingDiverged

__version__ = "0.1.0"

__all__ = [
    # errors
    "DeepnetsError", "ConfigError", "DataError", "CheckpointError", "TrainingDiverged",
]
