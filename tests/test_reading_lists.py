"""For readers: each lecture ends with what to remember and a reading list; the README maps the course.

* The last cell of every lecture has a "What to remember" list and a "Reading list" whose entries
  give authors, a year and an arXiv id or DOI (documentation pages give their address instead);
  an arXiv id must be plausible for the year it is cited with.
* The README's course map (topic -> lecture -> problem set -> exercises) names only lectures,
  problem sets and exercises that exist, with the exercises' own numbers and titles, and covers
  every lecture and every exercise. Add a row when you add an exercise.
"""
from __future__ import annotations

import re

import nbformat
import pytest

from course_helpers import ROOT

LECTURES = sorted((ROOT / "lectures").glob("0*.ipynb"))
SOURCE = ROOT / "course" / "source"
_ARXIV = re.compile(r"arXiv:(\d{2})(\d{2})\.\d{4,5}\b")
_DOI = re.compile(r"\bDOI 10\.\d{4,9}/\S+")
_STOP = {"the", "and", "with", "into", "from", "one", "per", "its", "of", "to", "a"}


def _section(text: str, title: str) -> str:
    found = re.search(rf"^## {title}\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    return found.group(1) if found else ""


def _items(section: str) -> list[str]:
    return [" ".join(item.split()) for item in re.split(r"^\* ", section, flags=re.M)[1:]]


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_lecture_ends_with_what_to_remember_and_a_reading_list(path):
    last = nbformat.read(path, as_version=4).cells[-1]
    assert last.cell_type == "markdown", f"{path.name}: the last cell should be the reading list"
    remember = _items(_section(last.source, "What to remember"))
    readings = _items(_section(last.source, "Reading list"))
    assert len(remember) >= 3, f"{path.name}: a short list of what to remember (3 items or more)"
    assert last.source.index("## What to remember") < last.source.index("## Reading list")
    assert len(readings) >= 3, f"{path.name}: a reading list of 3 entries or more"
    identified = 0
    for entry in readings:
        year = re.search(r"\((\d{4})\)", entry)
        arxiv, doi, url = _ARXIV.search(entry), _DOI.search(entry), re.search(r"https://\S+", entry)
        assert arxiv or doi or url, f"{path.name}: an entry with neither arXiv id, DOI nor address: {entry[:80]}"
        assert year or (url and not (arxiv or doi)), (      # documentation pages may have no year
            f"{path.name}: a paper without its year in parentheses: {entry[:80]}")
        if arxiv:
            yy, mm = int(arxiv.group(1)), int(arxiv.group(2))
            assert 1 <= mm <= 12, f"{path.name}: {arxiv.group(0)} is not an arXiv id"
            assert int(year.group(1)) - 3 <= 2000 + yy <= int(year.group(1)), (
                f"{path.name}: {arxiv.group(0)} does not fit the year {year.group(1)}")
        identified += bool(arxiv or doi)
        assert re.match(r"[A-Z][^()]*\(\d{4}\)", entry) or url, f"{path.name}: authors first: {entry[:80]}"
    assert identified >= 2, f"{path.name}: cite papers by arXiv id or DOI"


# -- the README's course map -----------------------------------------------------------------------

def _map_rows() -> list[dict]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- course map")
    rows = []
    for line in readme[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in ("topic", "---"):
            continue
        exercises = [(int(n), label.strip()) for n, label in re.findall(r"Ex\. (\d+) ([^·]+)", cells[3])]
        rows.append(dict(topic=cells[0], lecture=cells[1], problem_set=cells[2].strip("`"), exercises=exercises))
    return rows


def _exercise_titles(problem_set: str) -> dict[int, str]:
    nb = nbformat.read(SOURCE / problem_set / f"{problem_set}.ipynb", as_version=4)
    titles = {}
    for cell in nb.cells:
        for n, title in re.findall(r"^## Exercise (\d+) — (.+?)(?: \(\d+ points?\))?$", cell.source, flags=re.M):
            titles[int(n)] = title
    return titles


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 3 and w not in _STOP}


def test_course_map_names_what_exists():
    rows = _map_rows()
    assert rows, "README.md has a course map after its '<!-- course map' marker"
    lectures = {p.name[:2] for p in (ROOT / "lectures").glob("[0-9][0-9]_*.ipynb")}   # lecture 10 and on too
    for row in rows:
        assert row["lecture"] in lectures, f"course map: no lecture {row['lecture']} ({row['topic']})"
        if row["problem_set"] == "—":
            assert not row["exercises"]
            continue
        titles = _exercise_titles(row["problem_set"])
        assert titles, f"course map: no problem set {row['problem_set']}"
        for n, label in row["exercises"]:
            assert n in titles, f"course map: {row['problem_set']} has no exercise {n}"
            assert _words(label) & _words(titles[n]), (
                f"course map: {row['problem_set']} exercise {n} is {titles[n]!r}, not {label!r}")


def test_course_map_covers_every_lecture_and_exercise():
    rows = _map_rows()
    assert {p.name[:2] for p in LECTURES} <= {row["lecture"] for row in rows}, "a lecture is missing from the map"
    for problem_set in sorted(p.name for p in SOURCE.iterdir() if p.is_dir()):
        mapped = {n for row in rows if row["problem_set"] == problem_set for n, _ in row["exercises"]}
        missing = sorted(set(_exercise_titles(problem_set)) - mapped)
        assert not missing, f"course map: {problem_set} exercises {missing} are in no row of README.md's map"
