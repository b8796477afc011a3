"""``python -m autograder report``: an HTML grade report with plots, from the gradebook alone.

``reports/<assignment>/report.html``, with its plots also saved beside it as PNG files (and
embedded in the page, so the page can be mailed on its own):

1. the score distribution, for the total and for each exercise;
2. the most frequent diagnosed mistakes: the ``Likely mistake: ...`` lines of the checks'
   messages, counted once per student;
3. the time spent grading each submission;

then the written answers graded by hand in the Formgrader (:mod:`.manual`): each student's
score on each, or *pending: graded by hand* while the instructor has not graded it (scores and
totals count a pending answer as 0 and say how many are pending); and a table of every
submission that was not graded normally or that the grader repaired, with the reasons recorded
for it.
"""
from __future__ import annotations

import base64
import collections
import html
import re
from pathlib import Path

from . import gradebook, manual
from .course import exercise_of

MISTAKE = re.compile(r"^Likely mistake: (.+)$", re.M)


def diagnosed(details: dict) -> set[str]:
    found = set()
    for cell in details["cells"].values():
        for line in MISTAKE.findall(cell.get("message", "")):
            found.update(m.strip() for m in line.split(";") if m.strip())
    return found


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(path.read_bytes()).decode()


def report(course: Path, assignment: str, db_url: str, out: Path | None = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = out or course / "reports" / assignment
    out.mkdir(parents=True, exist_ok=True)
    gb = gradebook.open_gradebook(db_url)
    try:
        runs = gradebook.run_rows(gb, assignment)
        hand = manual.hand_grades(gb, assignment)
    finally:
        gb.close()
    for r in runs:  # the run rows hold the autograded scores; add what was graded by hand since
        r["details"]["cells"] = manual.cells_with_hand_grades(r["details"]["cells"], hand.get(r["student"]))
        r["score"] = sum(c["score"] for c in r["details"]["cells"].values())
    written = list(dict.fromkeys(gid for r in runs for gid, c in r["details"]["cells"].items()
                                 if c["state"] != "auto"))
    waiting = sum(len(manual.pending(r["details"]["cells"])) for r in runs)
    per_ex: dict = collections.defaultdict(lambda: collections.defaultdict(float))
    maxima: dict = collections.defaultdict(float)
    for r in runs:
        for gid, c in r["details"]["cells"].items():
            per_ex[exercise_of(gid)][r["student"]] += c["score"]
        for gid, c in r["details"]["cells"].items():
            if r is runs[0]:
                maxima[exercise_of(gid)] += c["max_score"]
    exercises = list(per_ex)
    images = []

    panels = ["total", *exercises]
    cols = 3
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, panels):
        if name == "total":
            values, top = [r["score"] for r in runs], (runs[0]["max_score"] if runs else 1)
        else:
            values, top = [per_ex[name][r["student"]] for r in runs], maxima[name]
        ax.hist(values, bins=[x - 0.5 for x in range(int(top) + 2)], color="#4c72b0", edgecolor="white")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("points")
        ax.set_ylabel("students")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{assignment}: score distribution ({len(runs)} submissions)")
    images.append(("Score distribution per exercise", _save(fig, out / "scores.png")))

    counts = collections.Counter(m for r in runs for m in diagnosed(r["details"]))
    top = counts.most_common(15)
    fig, ax = plt.subplots(figsize=(10, 0.45 * max(len(top), 2) + 1.2))
    if top:
        labels = [m if len(m) <= 90 else m[:87] + "..." for m, _ in top][::-1]
        ax.barh(labels, [n for _, n in top][::-1], color="#dd8452")
        ax.set_xlabel("students")
    else:
        ax.text(0.5, 0.5, "no diagnosed mistakes", ha="center", va="center")
        ax.axis("off")
    ax.set_title("Most frequent diagnosed mistakes")
    images.append(("Most frequent diagnosed mistakes", _save(fig, out / "mistakes.png")))

    fig, ax = plt.subplots(figsize=(10, 3.5))
    ordered = sorted(runs, key=lambda r: r["seconds"])
    colors = {"graded": "#55a868", "failed": "#c44e52", "rejected": "#8172b2", "error": "#333333"}
    ax.bar(range(len(ordered)), [r["seconds"] for r in ordered], color=[colors.get(r["status"], "#999") for r in ordered])
    ax.set_xlabel("submissions, fastest to slowest")
    ax.set_ylabel("seconds")
    total = sum(r["seconds"] for r in runs)
    ax.set_title(f"Time spent grading each submission (sum {total:.0f} s; colour = status)")
    for status, color in colors.items():
        if any(r["status"] == status for r in runs):
            ax.bar([], [], color=color, label=status)
    ax.legend(loc="upper left")
    images.append(("Time spent grading", _save(fig, out / "grading_time.png")))

    statuses = collections.Counter(r["status"] for r in runs)
    problems = [r for r in runs if r["status"] != "graded" or r["details"]["notes"]]
    rows_html = "".join(
        f"<tr><td>{html.escape(r['student'])}</td><td>{r['status']}</td><td>{r['score']:g} / {r['max_score']:g}</td>"
        f"<td>{html.escape('; '.join(r['details']['reasons'] + r['details']['notes']))}</td></tr>" for r in problems)
    mistakes_html = "".join(f"<tr><td>{n}</td><td>{html.escape(m)}</td></tr>" for m, n in counts.most_common())
    mean = sum(r["score"] for r in runs) / len(runs) if runs else 0.0
    page = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grade report: {html.escape(assignment)}</title>",
            "<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}"
            "img{max-width:100%}</style></head><body>",
            f"<h1>Grade report: {html.escape(assignment)}</h1>",
            f"<p>{len(runs)} submissions: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) +
            f". Mean score {mean:.2f} / {runs[0]['max_score'] if runs else 0:g}"
            + (f"; {waiting} written answers {manual.PENDING}, counted as 0 until graded" if waiting else "")
            + ".</p>"]
    for title, data in images:
        page.append(f"<h2>{title}</h2><img alt='{title}' src='data:image/png;base64,{data}'>")
    page.append("<h2>Diagnosed mistakes</h2><table><tr><th>students</th><th>mistake</th></tr>"
                f"{mistakes_html}</table>")
    if written:
        head = "".join(f"<th>{html.escape(g)}</th>" for g in written)
        body = "".join(
            f"<tr><td>{html.escape(r['student'])}</td>" + "".join(
                f"<td>{html.escape(manual.describe(r['details']['cells'][g]))}</td>" if g in r["details"]["cells"]
                else "<td></td>" for g in written) + "</tr>" for r in runs)
        page.append(f"<h2>Written answers (graded by hand in the Formgrader)</h2><p>{waiting} pending.</p>"
                    f"<table><tr><th>student</th>{head}</tr>{body}</table>")
    page.append("<h2>Submissions not graded normally, or repaired</h2><table><tr><th>student</th><th>status</th>"
                f"<th>score</th><th>reasons and notes</th></tr>{rows_html}</table></body></html>")
    target = out / "report.html"
    target.write_text("\n".join(page))
    return target
