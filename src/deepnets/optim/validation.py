"""Checks of optimizer hyper-parameters, raising ValueError with torch's wording."""

from __future__ import annotations

__all__ = ["check_line_search_options", "check_positive", "check_nonnegative", "check_unit_interval"]


def check_positive(name: str, value) -> None:
    """Raise ``ValueError(f"Invalid {name}: {value}")`` unless value > 0."""
    if not (isinstance(value, (int, float)) and value > 0):
        raise ValueError(f"Invalid {name}: {value}")


def check_nonnegative(name: str, value) -> None:
    """Raise ``ValueError(f"Invalid {name}: {value}")`` unless value >= 0."""
    if not (isinstance(value, (int, float)) and value >= 0):
        raise ValueError(f"Invalid {name}: {value}")


def check_unit_interval(name: str, value, *, closed_right: bool = False) -> None:
    """Raise ``ValueError`` unless 0 <= value < 1 (or <= 1 with ``closed_right``)."""
    ok = isinstance(value, (int, float)) and 0 <= value and (value <= 1 if closed_right else value < 1)
    if not ok:
        raise ValueError(f"Invalid {name}: {value}")


def check_line_search_options(options: dict) -> None:
    """Validate the options shared by the line-search optimizers."""
    check_positive("learning rate", options["lr"])
    if not (isinstance(options["max_iter"], int) and options["max_iter"] >= 1):
        raise ValueError(f"Invalid max_iter: {options['max_iter']}")
    if options["max_eval"] is not None and not (
        isinstance(options["max_eval"], int) and options["max_eval"] >= 1
    ):
        raise ValueError(f"Invalid max_eval: {options['max_eval']}")
    if options["restart"] is not None and not (
        isinstance(options["restart"], int) and options["restart"] >= 1
    ):
        raise ValueError(f"Invalid restart period: {options['restart']}")
    check_nonnegative("tolerance_grad", options["tolerance_grad"])
    check_nonnegative("tolerance_change", options["tolerance_change"])
    if not 0 < options["c1"] < options["c2"] < 1:
        raise ValueError(
            f"Invalid Wolfe constants: need 0 < c1 < c2 < 1, got c1={options['c1']}, c2={options['c2']}"
        )
    if not (isinstance(options["max_ls"], int) and options["max_ls"] >= 1):
        raise ValueError(f"Invalid max_ls: {options['max_ls']}")
