"""The lecture tour: run every claim of :mod:`.claims` from ``examples/`` and write one HTML page.

A row per claim: the lecture's statement, the example, the figure reached, its target, the
README's figure for it, pass/fail and the run's plot. A row fails when the figure misses its
target, or when the README states another figure (beyond the claim's tolerance): the tour is the
README's honesty check. ``quick=True`` runs the shortened variants (fewer epochs and seeds, lower
targets) in a few minutes and does not compare with the README. Each run is a normal run folder
under ``out/runs``; the page is ``out/tour.html`` and the rows ``out/tour.json``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import runpy
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .._registry import lookup
from ..atomic import write_atomic
from ..config import experiment_from_file
from ..errors import ConfigError, DeepnetsError
from ..report.html import Figure, Page
from .claims import CLAIMS, Claim
from .run import run_experiment

#: the plot a row shows, first found in the claim's (first) run folder
PLOTS = ("forecast.png", "learning_curve.png")


@dataclass
class Row:
    """One claim's outcome."""

    claim: Claim
    figure: float | None = None
    target: float | None = None
    reached: bool = False
    readme_figure: float | None = None
    readme_agrees: bool | None = None  # None: not compared (quick mode, no README, no README figure)
    note: str = ""
    seconds: float = 0.0
    plot: bytes | None = None

    @property
    def passed(self) -> bool:
        return self.reached and self.readme_agrees is not False


def show(value: float | None, shown: str) -> str:
    if value is None:
        return "–"
    if shown == "percent":
        return f"{100 * value:.2f}%"
    if shown == "count":
        return f"{value:.0f}"
    return f"{value:.3g}"


def default_examples() -> Path:
    """``examples/`` of the source checkout this package runs from."""
    return Path(__file__).resolve().parents[3] / "examples"


def readme_figure(claim: Claim, readme: str) -> float | None:
    """The README's figure for ``claim`` in the claim's units (None when the pattern finds none)."""
    m = re.search(claim.readme, readme)
    return None if m is None else float(m.group(1)) * claim.readme_scale


def agrees(claim: Claim, figure: float, stated: float) -> bool:
    return abs(figure - stated) <= max(claim.tolerance, claim.rel_tolerance * abs(stated)) + 1e-12


def _prepare(claim: Claim, examples: Path) -> None:
    """Write the CSV a claim's example reads (``examples/make_sklearn_csv.py NAME``) when it is missing."""
    if claim.prepare and not (examples / f"{claim.prepare[0]}.csv").is_file():
        runpy.run_path(str(examples / "make_sklearn_csv.py"))["main"](list(claim.prepare))


def _runs(claim: Claim, examples: Path, out: str, quick: bool, cache: dict) -> tuple[list[dict], str]:
    _prepare(claim, examples)
    seeds = (claim.quick_seeds or claim.seeds) if quick else claim.seeds
    summaries, first = [], None
    for seed in seeds:
        overrides = tuple(claim.quick if quick else ()) + (
            () if seed is None else tuple(s.format(seed=seed) for s in claim.sets))
        key = (claim.example, overrides)
        if key not in cache:
            exp = experiment_from_file(examples / f"{claim.example}.toml", overrides)
            exp.run.out, exp.run.progress = os.path.join(out, "runs"), False
            exp.run.name = claim.example + ("" if seed is None else f"-seed{seed}") + ("-quick" if quick else "")
            result = run_experiment(exp, source=claim.example)
            cache[key] = (result.summary, result.path)
        summaries.append(cache[key][0])
        first = first or cache[key][1]
    return summaries, first


def run_claim(claim: Claim, examples: Path, out: str, *, quick: bool, readme: str | None, cache: dict) -> Row:
    """Run one claim (all its seeds) and judge it."""
    row = Row(claim, target=claim.quick_target if quick and claim.quick_target is not None else claim.target)
    start = time.perf_counter()
    try:
        summaries, folder = _runs(claim, examples, out, quick, cache)
    except DeepnetsError as e:
        row.note = f"the run failed: {e}"
        row.seconds = time.perf_counter() - start
        return row
    row.seconds = time.perf_counter() - start
    row.figure = float(claim.measure(summaries))
    row.reached = row.figure >= row.target if claim.op == ">=" else row.figure <= row.target
    if quick:
        row.note = "quick mode: shortened run, not compared with the README"
    elif claim.readme is not None and readme is not None:
        row.readme_figure = readme_figure(claim, readme)
        row.readme_agrees = row.readme_figure is not None and agrees(claim, row.figure, row.readme_figure)
        if row.readme_figure is None:
            row.note = "the README states no figure for this claim"
        elif not row.readme_agrees:
            row.note = f"the README says {show(row.readme_figure, claim.shown)}: the README is wrong"
    for name in PLOTS:
        if os.path.isfile(os.path.join(folder, name)):
            with open(os.path.join(folder, name), "rb") as f:
                row.plot = f.read()
            break
    return row


def select_claims(only) -> list[Claim]:
    if not only:
        return list(CLAIMS)
    by_name = {c.name: c for c in CLAIMS}
    return [lookup(name, by_name, what="claim") for name in only]


def run_tour(*, out: str = "runs/tour", quick: bool = False, only=None, examples=None, readme=None,
             progress=print) -> tuple[list[Row], str]:
    """Run the claims (``only``: a list of claim names) and write ``out/tour.html`` and
    ``out/tour.json``; returns the rows and the page's path. ``readme``: the README's path
    (default: ``README.md`` beside ``examples/``); a missing README leaves the rows uncompared."""
    examples = Path(examples) if examples else default_examples()
    if not examples.is_dir():
        raise ConfigError(f"no examples folder at {examples}: give --examples DIR (the project's examples/)")
    claims = select_claims(only)
    readme_path = Path(readme) if readme else examples.parent / "README.md"
    text = readme_path.read_text(encoding="utf-8") if readme_path.is_file() else None
    os.makedirs(out, exist_ok=True)
    rows, cache, start = [], {}, time.perf_counter()
    for claim in claims:
        row = run_claim(claim, examples, out, quick=quick, readme=text, cache=cache)
        rows.append(row)
        progress(f"{'pass' if row.passed else 'FAIL'}  {claim.name:<18} {show(row.figure, claim.shown):>9}"
                 f"  (target {claim.op} {show(row.target, claim.shown)}, {row.seconds:.0f} s) {row.note}".rstrip())
    page = tour_page(rows, quick=quick, seconds=time.perf_counter() - start, readme=text is not None)
    path = page.write(os.path.join(out, "tour.html"))
    write_atomic(os.path.join(out, "tour.json"), json.dumps([_as_dict(r) for r in rows], indent=1).encode())
    return rows, path


def _as_dict(row: Row) -> dict:
    return {"claim": row.claim.name, "example": row.claim.example, "figure": row.figure, "target": row.target,
            "op": row.claim.op, "readme_figure": row.readme_figure, "readme_agrees": row.readme_agrees,
            "passed": row.passed, "seconds": round(row.seconds, 2), "note": row.note}


def tour_page(rows: list[Row], *, quick: bool, seconds: float, readme: bool) -> Page:
    passed = sum(r.passed for r in rows)
    page = Page("deepnets: the lecture tour" + (" (quick)" if quick else ""))
    page.paragraph(f"{passed} of {len(rows)} claims pass, in {seconds:.0f} s on {platform.machine()} "
                   f"({platform.processor() or platform.system()}), torch {torch.__version__}, "
                   f"{torch.get_num_threads()} thread(s)." + ("" if readme or quick else
                                                             " No README was found: figures were not compared."))
    body, classes = [], []
    for r in rows:
        c = r.claim
        readme_cell = show(r.readme_figure, c.shown) if r.readme_figure is not None else "–"
        body.append([c.name, c.statement, f"examples/{c.example}.toml", show(r.figure, c.shown),
                     f"{c.op} {show(r.target, c.shown)}", readme_cell,
                     ("pass" if r.passed else "FAIL") + (f": {r.note}" if r.note else ""),
                     Figure(r.plot, c.name) if r.plot else "–"])
        verdict = "pass" if r.passed else "fail"
        readme_cls = "" if r.readme_agrees is None else ("pass" if r.readme_agrees else "fail")
        classes.append(["", "", "", "pass" if r.reached else "fail", "", readme_cls, verdict, ""])
    page.table(body, header=["claim", "the lecture says", "example", "figure", "target", "README", "result", "plot"],
               classes=classes)
    return page
