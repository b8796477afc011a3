"""Build the course's self-study site (Jupyter Book 1) with every lecture and worked solution executed.

Usage (from anywhere; the repository must be installed, ``pip install -e ".[site]"``)::

    python book/build.py                 # site in book/_build/_build/html/index.html
    python book/build.py --out DIR       # site in DIR/_build/html/index.html
    python book/build.py --cache         # reuse executed notebooks whose code has not changed

The script

1. finds the notebooks by glob: ``lectures/*.ipynb`` and ``solutions/*.ipynb`` (new lectures and
   problem sets appear on the site without editing anything here);
2. copies them into ``OUT/source/lectures`` and ``OUT/source/solutions`` next to this folder's
   ``_config.yml``, and appends to each copy a link to its partner pages (a lecture's worked
   solution and back);
3. writes the table of contents (``_toc.yml``) and the index page (``index.md``: this folder's
   ``intro.md`` with the course table filled in);
4. runs ``jupyter-book build``, which executes every notebook in its own folder (600 s per cell at
   most) and fails on the first cell error, and prints where ``index.html`` is.

Lectures and worked solutions are paired by topic, from the words of their file names: a worked
solution goes with every lecture whose name shares a word (or the initials of three words or more, so
that ``qat`` matches ``quantization_aware_training``) with its own, ignoring words as common as ``quantization``.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
DEFAULT_OUT = BOOK / "_build"
TABLE_MARKER = "<!-- course-table: written by build.py -->"

#: file-name words that say nothing about a topic: every part of the course is about quantization
_COMMON_WORDS = {"quantization", "and", "of", "the", "a", "in", "for", "to"}


@dataclass
class Page:
    """One notebook of the site: where it comes from and where it goes in the book."""

    path: Path                                 #: the notebook in the repository
    folder: str                                #: "lectures" or "solutions"
    title: str = ""                            #: its first level-1 heading
    partners: list = field(default_factory=list)  #: the pages paired with it (lecture <-> solution)

    @property
    def docname(self) -> str:
        """The page's name in the book, without suffix (``lectures/01_linear_quantization``)."""
        return f"{self.folder}/{self.path.stem}"


def notebook_title(path: Path) -> str:
    """The first level-1 Markdown heading of a notebook, or its file name if it has none."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def topic_words(stem: str) -> set:
    """The words of a notebook's file name that name its topic, plus their initials.

    >>> sorted(topic_words("04_quantization_aware_training"))
    ['aware', 'qat', 'training']
    >>> sorted(topic_words("ps3_ptq_qat"))
    ['ptq', 'qat']
    """
    words = [w for w in re.split(r"[_\-\s]+", stem.lower()) if w]
    if words and re.fullmatch(r"(ps)?\d+", words[0]):
        words = words[1:]
    topic = {w for w in words if w not in _COMMON_WORDS and not w.isdigit()}
    initials = "".join(w[0] for w in words if w not in {"and", "of", "the", "a", "in", "for", "to"})
    if len(initials) >= 3:  # two letters would pair too much by chance
        topic.add(initials)
    return topic


def collect(lectures: Path, solutions: Path) -> tuple[list, list]:
    """The lecture and worked-solution pages, sorted by file name, paired with each other."""
    lecture_pages = [Page(p, "lectures", notebook_title(p)) for p in sorted(lectures.glob("*.ipynb"))]
    solution_pages = [Page(p, "solutions", notebook_title(p)) for p in sorted(solutions.glob("*.ipynb"))]
    for solution in solution_pages:
        words = topic_words(solution.path.stem)
        for lecture in lecture_pages:
            if words & topic_words(lecture.path.stem):
                lecture.partners.append(solution)
                solution.partners.append(lecture)
    return lecture_pages, solution_pages


def _link(page: Page, relative_to: str = "") -> str:
    target = f"{page.docname}.ipynb"
    if relative_to:
        target = os.path.relpath(target, relative_to)
    return f"[{page.title}]({target})"


def course_table(lecture_pages: list, solution_pages: list) -> str:
    """The index page's Markdown table: each lecture and its worked solution(s)."""
    rows = ["| Lecture | Worked solution |", "| --- | --- |"]
    for lecture in lecture_pages:
        partners = "<br>".join(_link(s) for s in lecture.partners) or "—"
        rows.append(f"| {_link(lecture)} | {partners} |")
    for solution in solution_pages:
        if not solution.partners:
            rows.append(f"| — | {_link(solution)} |")
    return "\n".join(rows)


def table_of_contents(lecture_pages: list, solution_pages: list) -> dict:
    """The ``_toc.yml`` content: the index, then a part for lectures and one for solutions."""
    parts = []
    for caption, pages in (("Lectures", lecture_pages), ("Worked solutions", solution_pages)):
        if pages:
            parts.append({"caption": caption, "chapters": [{"file": p.docname} for p in pages]})
    return {"format": "jb-book", "root": "index", "parts": parts}


def _see_also(page: Page) -> str:
    if not page.partners:
        return ""
    what = "worked solution" if page.folder == "lectures" else "lecture"
    many = len(page.partners) > 1
    links = ", ".join(_link(p, relative_to=page.folder) for p in page.partners)
    return f"---\n\n**The {what}{'s' if many else ''} that go{'' if many else 'es'} with this page:** {links}. The [course table](../index.md) lists every page."


def stage(source: Path, lecture_pages: list, solution_pages: list, cache: bool = False) -> None:
    """Write the book's source folder: configuration, index, table of contents, notebooks."""
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    config = yaml.safe_load((BOOK / "_config.yml").read_text(encoding="utf-8"))
    if cache:
        config["execute"]["execute_notebooks"] = "cache"
    (source / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    intro = (BOOK / "intro.md").read_text(encoding="utf-8")
    if TABLE_MARKER not in intro:
        raise SystemExit(f"{BOOK / 'intro.md'} lost its marker line {TABLE_MARKER!r}")
    # the root page is index.md, so that index.html is the course table itself (not a redirect)
    (source / "index.md").write_text(intro.replace(TABLE_MARKER, course_table(lecture_pages, solution_pages)),
                                     encoding="utf-8")
    (source / "_toc.yml").write_text(yaml.safe_dump(table_of_contents(lecture_pages, solution_pages),
                                                    sort_keys=False), encoding="utf-8")
    for page in lecture_pages + solution_pages:
        nb = nbformat.read(page.path, as_version=4)
        see_also = _see_also(page)
        if see_also:
            nb.cells.append(nbformat.v4.new_markdown_cell(see_also))
        target = source / f"{page.docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)


def run_jupyter_book(source: Path, out: Path) -> None:
    """Run ``jupyter-book build`` from this interpreter; raise ``SystemExit`` if it fails."""
    env = dict(os.environ)
    # the notebooks' kernel is this interpreter's (its bin first on PATH, as `make` does)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    cmd = [sys.executable, "-c",
           "import sys; from jupyter_book.cli.main import main; sys.argv[0] = 'jupyter-book'; sys.exit(main())",
           "build", str(source), "--path-output", str(out), "--builder", "html", "--all"]
    proc = subprocess.run(cmd, env=env, cwd=source)
    html = out / "_build" / "html"
    reports = sorted((html / "reports").rglob("*.err.log")) if (html / "reports").exists() else []
    if proc.returncode != 0 or reports:
        for report in reports:
            print(f"--- execution failure: {report}", file=sys.stderr)
            print(report.read_text(encoding="utf-8", errors="replace"), file=sys.stderr)
        raise SystemExit(f"jupyter-book build failed (exit status {proc.returncode})")


def build(out: Path = DEFAULT_OUT, lectures: Path = ROOT / "lectures", solutions: Path = ROOT / "solutions",
          cache: bool = False) -> Path:
    """Build the site into ``out``; return the path of its ``index.html``."""
    out = Path(out).resolve()
    if importlib.util.find_spec("sphinx-mathjax-offline") is None:  # the package's module has this name
        raise SystemExit("the site serves MathJax itself: pip install sphinx-mathjax-offline "
                         "(or pip install -e \".[site]\")")
    lecture_pages, solution_pages = collect(Path(lectures), Path(solutions))
    if not lecture_pages and not solution_pages:
        raise SystemExit(f"no notebooks found in {lectures} or {solutions}")
    source = out / "source"
    stage(source, lecture_pages, solution_pages, cache=cache)
    run_jupyter_book(source, out)
    index = out / "_build" / "html" / "index.html"
    if not index.exists():
        raise SystemExit(f"the build finished without writing {index}")
    return index


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="build folder (default: book/_build); the site is OUT/_build/html")
    parser.add_argument("--cache", action="store_true",
                        help="reuse the execution cache in OUT: rerun only notebooks whose code changed "
                             "(a change in quantref alone does not rerun them)")
    parser.add_argument("--lectures", type=Path, default=ROOT / "lectures", help=argparse.SUPPRESS)
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    index = build(args.out, args.lectures, args.solutions, cache=args.cache)
    print(f"site built in {time.perf_counter() - start:.0f} s: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
