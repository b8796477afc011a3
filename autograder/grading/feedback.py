"""``python -m autograder feedback``: one HTML page per student, in ``feedback/<student>/<assignment>/``.

The page starts with the student's score per exercise and what the grader noticed (a repaired or
rejected notebook, an interrupted cell), then shows the graded notebook: the student's code, and
under each test cell its score and its message -- the checks' diagnosis of a wrong answer
("Likely mistake: ...").  Hidden tests are never shown: the code between ``### BEGIN HIDDEN
TESTS`` and ``### END HIDDEN TESTS`` is replaced by a note, and a test cell's outputs are reduced
to the error's message (no traceback, which would quote the test's lines) and its printed lines.
The hidden checks' messages name a failing case by its label only, never by its inputs.
Written answers are graded by hand in the Formgrader (:mod:`.manual`): until the instructor has
graded one, the page shows it as *pending: graded by hand* (counted as 0 in the total, which says
so); afterwards, the instructor's score.
It is nbgrader's feedback folder, so ``nbgrader release_feedback`` can hand the pages out.
"""
from __future__ import annotations

import copy
import html
import re
from pathlib import Path

import nbformat

from . import gradebook, manual
from .course import exercise_of

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
HIDDEN_NOTE = "# (hidden tests: they ran when your notebook was graded; their code is not shown)\n"

CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}
pre{background:#f6f6f6;padding:.5rem;overflow-x:auto;white-space:pre-wrap}
.score{font-weight:bold;padding:.2rem .5rem;border-radius:.3rem;display:inline-block;margin:.3rem 0}
.full{background:#d8f5d0}.pending{background:#dde6f5}.part{background:#fde9c4}.zero{background:#f8d0d0}
.jp-InputPrompt,.jp-OutputPrompt{display:none}"""


def strip_hidden(source: str) -> str:
    return HIDDEN.sub(HIDDEN_NOTE, source)


def _badge(score: float, max_score: float, state: str = "auto") -> str:
    if state == "pending":
        return f'<div class="score pending">Score: {manual.PENDING} ({max_score:g} points)</div>'
    if state == "manual":
        kind = "full" if score >= max_score else "zero" if score <= 0 else "part"
        return f'<div class="score {kind}">Score: {score:g} / {max_score:g} (graded by hand)</div>'
    kind = "full" if score >= max_score else "zero" if score <= 0 else "part"
    return f'<div class="score {kind}">Score: {score:g} / {max_score:g}</div>'


_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)", re.S)


def _mathml(tex: str, display: bool) -> str:
    from latex2mathml.converter import convert
    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - TeX the converter does not know stays readable as code
        return f"<code>{html.escape(tex)}</code>"


def math_to_mathml(markdown: str) -> str:
    """Markdown with its ``$...$`` and ``$$...$$`` turned into MathML, which browsers draw without
    a script or a network (the feedback is read offline); code spans and blocks are left alone."""
    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):
        parts[i] = _MATH.sub(lambda m: _mathml(m.group(1) or m.group(2), m.group(1) is not None), parts[i])
    return "".join(parts)


def feedback_notebook(nb: nbformat.NotebookNode, cells: dict) -> nbformat.NotebookNode:
    """The graded notebook made safe to show: hidden tests out, test outputs reduced, scores in."""
    nb = copy.deepcopy(nb)
    out = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cell.source = strip_hidden(cell.source)
            message = cells.get(gid, {}).get("message", "")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=message + "\n")] if message else []
            out.append(cell)
            if gid in cells:
                out.append(nbformat.v4.new_markdown_cell(_badge(cells[gid]["score"], cells[gid]["max_score"])))
            continue
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
            if meta.get("grade") and gid in cells:  # a written answer: its hand grade, or pending
                c = cells[gid]
                out += [cell, nbformat.v4.new_markdown_cell(_badge(c["score"], c["max_score"],
                                                                   c.get("state", "auto")))]
                continue
        if cell.cell_type == "code":
            for o in cell.get("outputs", []):
                if o.get("output_type") == "error":
                    o["traceback"] = [f"{o.get('ename')}: {o.get('evalue')}"]
        out.append(cell)
    nb.cells = out
    return nb


def _summary(student: str, assignment: str, row) -> str:
    details = row["details"] if row else {"cells": {}, "reasons": [], "notes": []}
    by_ex: dict = {}
    for gid, c in details["cells"].items():
        s, m = by_ex.get(exercise_of(gid), (0.0, 0.0))
        by_ex[exercise_of(gid)] = (s + c["score"], m + c["max_score"])
    states = {exercise_of(gid): c.get("state", "auto") for gid, c in details["cells"].items()}
    rows = "".join(f"<tr><td>{html.escape(e)}</td><td>{s:g} / {m:g}</td></tr>" if states[e] != "pending" else
                   f"<tr><td>{html.escape(e)}</td><td>{manual.PENDING} ({m:g} points)</td></tr>"
                   for e, (s, m) in by_ex.items())
    total = sum(s for s, _ in by_ex.values()), sum(m for _, m in by_ex.values())
    waiting = manual.pending(details["cells"])
    note = (f" ({len(waiting)} written answer{'s' if len(waiting) > 1 else ''}, "
            f"{sum(details['cells'][g]['max_score'] for g in waiting):g} points, {manual.PENDING}: "
            f"counted as 0 until graded)" if waiting else "")
    parts = [f"<h1>Feedback: {html.escape(assignment)}</h1>",
             f"<p>Student <b>{html.escape(student)}</b>: <b>{total[0]:g} / {total[1]:g}</b> points{note}.</p>",
             f"<table><tr><th>exercise</th><th>score</th></tr>{rows}</table>"]
    if details["reasons"]:
        parts.append("<h2>Your notebook could not be graded normally</h2><ul>" +
                     "".join(f"<li>{html.escape(r)}</li>" for r in details["reasons"]) + "</ul>")
    if details["notes"]:
        parts.append("<h2>What the grader noticed</h2><ul>" +
                     "".join(f"<li>{html.escape(n)}</li>" for n in details["notes"]) + "</ul>")
    failing = [(gid, c) for gid, c in details["cells"].items() if c["score"] < c["max_score"] and c["message"]]
    if failing:
        parts.append("<h2>Test messages</h2>" + "".join(
            f"<h3>{html.escape(gid)}</h3><pre>{html.escape(c['message'])}</pre>" for gid, c in failing))
    return "\n".join(parts)


def render(student: str, assignment: str, row, nb: nbformat.NotebookNode | None) -> str:
    body = ""
    if nb is not None:
        from nbconvert import HTMLExporter
        exporter = HTMLExporter(template_name="basic")
        body, _ = exporter.from_notebook_node(feedback_notebook(nb, row["details"]["cells"] if row else {}))
        body = "<h2>Your graded notebook</h2>\n" + body
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(assignment)}: "
            f"{html.escape(student)}</title><style>{CSS}</style></head><body>\n"
            f"{_summary(student, assignment, row)}\n{body}\n</body></html>\n")


def write_feedback(course: Path, assignment: str, db_url: str, students: list[str] | None = None) -> list[Path]:
    gb = gradebook.open_gradebook(db_url)
    try:
        rows = {r["student"]: r for r in gradebook.run_rows(gb, assignment)}
        hand = manual.hand_grades(gb, assignment)
    finally:
        gb.close()
    for student, row in rows.items():  # the written answers: the instructor's score, or pending
        row["details"]["cells"] = manual.cells_with_hand_grades(row["details"]["cells"], hand.get(student))
    written = []
    for student in sorted(students or rows):
        row = rows.get(student)
        folder = course / "autograded" / student / assignment
        names = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
        out_dir = course / "feedback" / student / assignment
        out_dir.mkdir(parents=True, exist_ok=True)
        if not names:  # rejected or failed: the summary page alone
            target = out_dir / f"{assignment}.html"
            target.write_text(render(student, assignment, row, None))
            written.append(target)
        for path in names:
            target = out_dir / f"{path.stem}.html"
            target.write_text(render(student, assignment, row, nbformat.read(path, as_version=4)))
            written.append(target)
    return written
