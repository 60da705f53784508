"""Network pruning: Optimal Brain Surgeon, Optimal Brain Damage, magnitude; masks; export.

- :func:`obs_prune` -- full-Hessian OBS (``curvature="full"``), OBD (``"diagonal"``) or one-by-one
  magnitude (``"identity"``): the same loop with a different inverse curvature; by default
  Hassibi & Stork's protocol (Q rebuilt after each removal on small nets, α on the mean outer
  product; ``max_accuracy_drop=0`` stops at the first drop in training accuracy)
- :func:`obd_prune` -- :func:`obs_prune` with ``curvature="diagonal"``
- :func:`layerwise_obs` -- OBS per Linear layer against its own inputs, for large MLPs
- :func:`magnitude_prune` -- the magnitude baseline: :func:`obs_prune`'s loop with Q = I, the same
  stopping rules and default pruned set
- :func:`apply_masks`, :func:`get_masks`, :func:`remove_masks`, :func:`sparsity` -- masks that keep
  pruned weights at zero through training and in checkpoints
- :func:`compact_mlp` -- a pruned MLP as smaller dense layers with identical outputs
- :func:`obs_step`, :class:`FullInverse`, :class:`DiagonalInverse` -- the step on a flat vector
"""

from .export import compact_mlp
from .layerwise import LayerwiseResult, layerwise_obs, prune_rows
from .masks import Mask, apply_masks, get_masks, remove_masks, sparsity
from .obs import DiagonalInverse, FullInverse, obs_step, saliencies
from .pruner import PruneResult, magnitude_prune, obd_prune, obs_prune

__all__ = [
    "obs_prune", "obd_prune", "magnitude_prune", "PruneResult",
    "layerwise_obs", "prune_rows", "LayerwiseResult",
    "Mask", "apply_masks", "get_masks", "remove_masks", "sparsity",
    "compact_mlp",
    "obs_step", "saliencies", "FullInverse", "DiagonalInverse",
]
