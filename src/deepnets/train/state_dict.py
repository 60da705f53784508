"""Load weights and optimizer state into a model by parameter name, all or nothing.

``torch.nn.Module.load_state_dict(strict=True)`` stops at the first kind of problem and can leave
a model half loaded when a shape differs; ``torch.optim.Optimizer.load_state_dict`` matches
parameters by their position in ``param_groups``, so a model whose layers were registered in
another order silently receives another layer's Adam moments. Here every key is checked first,
the report lists all problems, and optimizer state travels keyed by parameter name.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

import torch

from deepnets.errors import CheckpointError

#: Exact types that torch.load(weights_only=True) reads without an allow-list. Subclasses (an
#: IntEnum, torch's TorchVersion string) pickle by class name and would be refused, so types are
#: compared exactly.
_LEAVES = (torch.Tensor, torch.nn.Parameter, int, float, complex, bool, str, bytes, type(None),
           torch.dtype, torch.device, torch.Size)
_MAPPINGS = (dict, collections.OrderedDict, collections.Counter)  # Counter: MultiStepLR
_SEQUENCES = (list, tuple, set)


def check_plain_data(value, where: str) -> None:
    """Refuse leaves torch.load(weights_only=True) cannot read, and non-finite tensors: a state
    tree (model, optimizer, scheduler, loop and callback states) must be plain data to be saved."""
    kind = type(value)
    if kind in (torch.Tensor, torch.nn.Parameter):
        if (value.is_floating_point() or value.is_complex()) and value.numel():
            bad = (~torch.isfinite(value.detach())).sum().item()
            if bad:
                raise CheckpointError(f"refusing to save a non-finite tensor: {where} has {bad} "
                                      f"NaN/inf values of {value.numel()}")
    elif kind in _MAPPINGS:
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise CheckpointError(f"{where}: expected str or int keys, got {type(k).__name__}")
            check_plain_data(v, f"{where}[{k!r}]")
    elif kind in _SEQUENCES:
        for i, v in enumerate(value):
            check_plain_data(v, f"{where}[{i}]")
    elif kind not in _LEAVES:
        raise CheckpointError(f"{where}: expected plain data (tensor, number, string, bytes, None, "
                              f"torch dtype/device/Size, list, tuple, dict), got {type(value).__module__}."
                              f"{type(value).__qualname__}")


#: Prefixes that wrappers add to every key: DistributedDataParallel and torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")

#: How many keys of each kind an error message lists.
SHOW = 10


def strip_prefix(key: str) -> str:
    """Remove any run of wrapper prefixes (``module.``, ``_orig_mod.``) from the front of ``key``.

    >>> strip_prefix("module._orig_mod.fc1.weight")
    'fc1.weight'
    """
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def strip_prefixes(state: Mapping[str, object]) -> dict[str, object]:
    """``state`` with wrapper prefixes removed from every key; two keys colliding is an error."""
    out: dict[str, object] = {}
    for key, value in state.items():
        bare = strip_prefix(key)
        if bare in out:
            raise CheckpointError(f"state dict has two keys that both mean {bare!r} once the "
                                  f"'module.'/'_orig_mod.' prefixes are removed")
        out[bare] = value
    return out


def _listing(title: str, items: list[str]) -> str:
    """'3 missing: a, b, c' with at most SHOW items shown."""
    shown = ", ".join(items[:SHOW])
    more = f", ... ({len(items) - SHOW} more)" if len(items) > SHOW else ""
    return f"{len(items)} {title}: {shown}{more}"


def load_state_dict_checked(model: torch.nn.Module, state: Mapping[str, torch.Tensor],
                            *, source: str = "checkpoint") -> None:
    """Load ``state`` into ``model`` only if every key and shape fits; otherwise load nothing.

    >>> a, b = torch.nn.Linear(2, 3), torch.nn.Linear(2, 3)
    >>> load_state_dict_checked(b, {"module." + k: v for k, v in a.state_dict().items()})
    >>> torch.equal(a.weight, b.weight)
    True

    Keys are compared after stripping ``module.`` (DDP) and ``_orig_mod.`` (torch.compile) from
    both sides, so a checkpoint of a wrapped model loads into a bare one and the other way round.

    Args:
        model: the module to fill (may itself be wrapped).
        state: name -> tensor, e.g. :func:`deepnets.train.checkpoint.load_checkpoint`'s ``"model"``.
        source: what to call ``state`` in the error (a file name).

    Raises:
        CheckpointError: listing the missing, unexpected and mis-shaped keys (the first 10 of each
            and their counts); the model is unchanged.
    """
    model.load_state_dict(plan_model_load(model, state, source=source), strict=True)


def plan_model_load(model: torch.nn.Module, state: Mapping[str, torch.Tensor],
                    *, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Check ``state`` against ``model`` and return it keyed by the model's own names.

    Raises:
        CheckpointError: as :func:`load_state_dict_checked`; nothing is touched.
    """
    own = model.state_dict()
    own_by_bare = {strip_prefix(k): k for k in own}
    given = strip_prefixes(state)
    missing = [k for k in own_by_bare if k not in given]
    unexpected = [k for k in given if k not in own_by_bare]
    misshaped = []
    for bare, value in given.items():
        if bare in own_by_bare:
            want = tuple(own[own_by_bare[bare]].shape)
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            if got != want:
                misshaped.append(f"{bare} (checkpoint {got}, model {want})")
    if missing or unexpected or misshaped:
        parts = [_listing(t, items) for t, items in
                 (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)) if items]
        raise CheckpointError(f"{source} does not fit {type(model).__name__}; nothing was loaded. "
                              + "; ".join(parts))
    return {own_by_bare[bare]: value for bare, value in given.items()}


def _param_names(model: torch.nn.Module) -> dict[int, str]:
    """id(parameter) -> its bare name (a shared parameter keeps its first name)."""
    return {id(p): strip_prefix(name) for name, p in model.named_parameters()}


def optimizer_state_by_name(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> dict:
    """``optimizer.state_dict()`` with torch's integer parameter ids replaced by parameter names.

    Returns:
        ``{"state": {name: {...}}, "param_groups": [{..., "params": [names]}]}``.

    Raises:
        CheckpointError: the optimizer holds a parameter that is not in ``model``.
    """
    names = _param_names(model)
    sd = optimizer.state_dict()
    # torch numbers parameters 0, 1, ... through param_groups in order; rebuild that numbering.
    id_to_name: dict[int, str] = {}
    index = 0
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in names:
                raise CheckpointError(f"optimizer holds a parameter of shape {tuple(p.shape)} that "
                                      f"is not among {type(model).__name__}'s parameters")
            id_to_name[index] = names[id(p)]
            index += 1
    groups = [{**{k: v for k, v in g.items() if k != "params"},
               "params": [id_to_name[i] for i in g["params"]]} for g in sd["param_groups"]]
    return {"state": {id_to_name[i]: s for i, s in sd["state"].items()}, "param_groups": groups}


def load_optimizer_state_by_name(optimizer: torch.optim.Optimizer, model: torch.nn.Module,
                                 saved: Mapping, *, source: str = "checkpoint") -> None:
    """Load a name-keyed optimizer state (from :func:`optimizer_state_by_name`) into ``optimizer``.

    Each saved group must hold the same parameter names as the current group at its position (in
    any order); the state of parameter ``name`` goes to the current parameter called ``name``.

    Raises:
        CheckpointError: group counts or names differ (lists them); the optimizer is unchanged.
    """
    optimizer.load_state_dict(plan_optimizer_load(optimizer, model, saved, source=source))


def plan_optimizer_load(optimizer: torch.optim.Optimizer, model: torch.nn.Module,
                        saved: Mapping, *, source: str = "checkpoint") -> dict:
    """Check a name-keyed optimizer state and return it in ``optimizer``'s integer numbering.

    Raises:
        CheckpointError: as :func:`load_optimizer_state_by_name`; nothing is touched.
    """
    names = _param_names(model)
    saved_groups = list(saved["param_groups"])
    if len(saved_groups) != len(optimizer.param_groups):
        raise CheckpointError(f"{source}: optimizer has {len(optimizer.param_groups)} parameter "
                              f"groups, checkpoint has {len(saved_groups)}; nothing was loaded")
    name_to_index: dict[str, int] = {}
    problems = []
    index = 0
    for g, (group, saved_group) in enumerate(zip(optimizer.param_groups, saved_groups)):
        current = []
        for p in group["params"]:
            if id(p) not in names:
                raise CheckpointError(f"optimizer holds a parameter of shape {tuple(p.shape)} that "
                                      f"is not among {type(model).__name__}'s parameters")
            current.append(names[id(p)])
            name_to_index[names[id(p)]] = index
            index += 1
        want = [strip_prefix(n) for n in saved_group["params"]]
        missing = [n for n in current if n not in want]
        unexpected = [n for n in want if n not in current]
        if missing or unexpected:
            problems.append(f"group {g}: " + "; ".join(
                _listing(t, items) for t, items in (("missing", missing), ("unexpected", unexpected))
                if items))
    if problems:
        raise CheckpointError(f"{source}: optimizer state does not fit the model's parameters; "
                              f"nothing was loaded. " + " | ".join(problems))
    # Hand torch a state dict in the current numbering, whose per-group order equals the current
    # order, so torch's positional zip maps every id to itself.
    groups = []
    for group, saved_group in zip(optimizer.param_groups, saved_groups):
        ids = [name_to_index[names[id(p)]] for p in group["params"]]
        groups.append({**{k: v for k, v in saved_group.items() if k != "params"}, "params": ids})
    # cloned: torch's load keeps tensors it need not move, and two optimizers must never share
    # moment buffers that each updates in place
    state = {name_to_index[strip_prefix(n)]: {k: v.clone() if isinstance(v, torch.Tensor) else v
                                              for k, v in s.items()}
             for n, s in saved["state"].items() if strip_prefix(n) in name_to_index}
    return {"state": state, "param_groups": groups}
