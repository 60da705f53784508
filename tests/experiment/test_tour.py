"""The lecture tour: every example is a claim, every claim's README figure is found and checked."""

import json
from pathlib import Path

import pytest

from deepnets.cli import main
from deepnets.errors import ConfigError
from deepnets.experiment.claims import CLAIMS, NOT_CLAIMS
from deepnets.experiment.tour import default_examples, readme_figure, run_tour

ROOT = Path(__file__).resolve().parents[2]


def test_every_example_is_a_claim_or_says_why_not():
    examples = {p.stem for p in (ROOT / "examples").glob("*.toml")}
    assert examples == {c.example for c in CLAIMS} | set(NOT_CLAIMS)
    assert default_examples() == ROOT / "examples"


def test_the_readme_states_a_figure_for_every_claim_that_has_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [c.name for c in CLAIMS if c.readme and readme_figure(c, readme) is None]
    assert not missing


def _readme(tmp_path, rmse):
    path = tmp_path / "README.md"
    path.write_text(f"| claim | example | result |\n| one hidden layer | `sin` | test RMSE {rmse} (target < 0.01) |\n")
    return path


def test_a_readme_figure_the_run_does_not_give_is_a_failing_row(tmp_path):
    # the figure the tour reports is the run folder's own test RMSE; a README that states it passes,
    # one that states another fails
    rows, _ = run_tour(out=str(tmp_path / "a"), only=["sin"], readme=_readme(tmp_path, "0.5"), progress=lambda s: None)
    (row,) = rows
    run = next((tmp_path / "a" / "runs").iterdir())
    assert row.figure == json.loads((run / "summary.json").read_text())["metrics"]["test"]["rmse"]
    assert row.reached and row.readme_agrees is False and not row.passed
    assert "README is wrong" in row.note
    rows, _ = run_tour(out=str(tmp_path / "b"), only=["sin"], readme=_readme(tmp_path, f"{row.figure:.2g}"),
                       progress=lambda s: None)
    assert rows[0].passed and rows[0].readme_agrees


def test_the_quick_tour_command_writes_the_page_and_the_rows(tmp_path, capsys):
    out = tmp_path / "tour"
    assert main(["tour", "--quick", "--only", "xor_steps_1,sin", "--out", str(out)]) == 0
    assert "2 of 2 claims pass" in capsys.readouterr().out
    rows = json.loads((out / "tour.json").read_text())
    assert [r["claim"] for r in rows] == ["xor_steps_1", "sin"]
    assert all(r["passed"] and r["readme_agrees"] is None for r in rows) and rows[0]["figure"] == 1.0
    html = (out / "tour.html").read_text()  # the hand-set net trains no epochs: only sin has a plot
    assert html.count("data:image/png;base64,") == 1 and "2 of 2 claims pass" in html


def test_unknown_claims_and_a_missing_examples_folder_are_clear_errors(tmp_path, capsys):
    with pytest.raises(ConfigError, match="did you mean 'parity4'"):
        run_tour(out=str(tmp_path), only=["parity5"])
    assert main(["tour", "--examples", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "no examples folder" in capsys.readouterr().err
