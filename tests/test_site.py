"""The self-study site (``python book/build.py``): every lecture and worked solution, executed, offline.

The slow tests build the whole site into a temporary folder (every notebook runs) and read the
HTML: a page per notebook, figures on the lecture pages, no traceback or error output, the index
and the sidebar link every page, lectures and solutions link each other, and nothing is loaded
from the network (MathJax included). A notebook whose cell fails must fail the build.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from course_helpers import ROOT

BUILD_SCRIPT = ROOT / "book" / "build.py"


def _load_build_script():
    spec = importlib.util.spec_from_file_location("book_build", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


book = _load_build_script()


class _Assets(HTMLParser):
    """Collects ``<script src>`` and ``<link href>`` of a page, and every ``<a href>``."""

    def __init__(self):
        super().__init__()
        self.assets, self.links = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.assets.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.assets.append(attrs["href"])
        elif tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


class _RenderedText(HTMLParser):
    """The text a reader sees on a page, split into math (what MathJax typesets) and the rest.

    Code, outputs (``pre``), scripts and styles are left out: a ``$`` there is content, not markup.
    """

    SKIP = {"script", "style", "pre", "code", "textarea", "head"}
    VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "source"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open, self.text, self.math = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            classes = (dict(attrs).get("class") or "").split()
            self.open.append((tag, tag in self.SKIP, "math" in classes))

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                del self.open[i:]
                break

    def handle_data(self, data):
        if any(math for _, _, math in self.open):
            self.math.append(data)
        elif not any(skip for _, skip, _ in self.open):
            self.text.append(data)


def raw_dollars(html: str) -> list[str]:
    """Each ``$`` left in the rendered prose of a page (math that was not recognised), in context."""
    parser = _RenderedText()
    parser.feed(html)
    text = "".join(parser.text)
    return [text[max(0, i - 60): i + 60].replace("\n", " ") for i, ch in enumerate(text) if ch == "$"]


def _parse(page: Path) -> _Assets:
    parser = _Assets()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


# -- fast: how pages are gathered and paired ---------------------------------------------------

def test_every_notebook_is_in_the_table_of_contents_and_the_course_table():
    lectures, solutions = book.collect(ROOT / "lectures", ROOT / "solutions")
    assert [p.path.name for p in lectures] == sorted(p.name for p in (ROOT / "lectures").glob("*.ipynb"))
    assert [p.path.name for p in solutions] == sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    toc = book.table_of_contents(lectures, solutions)
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert files == [p.docname for p in lectures + solutions]
    table = book.course_table(lectures, solutions)
    for page in lectures + solutions:
        assert f"({page.docname}.ipynb)" in table and page.title in table


def test_lectures_and_solutions_are_paired_by_topic():
    lectures, solutions = book.collect(ROOT / "lectures", ROOT / "solutions")
    pairs = {s.path.stem: sorted(p.path.stem for p in s.partners) for s in solutions}
    assert pairs["ps1_linear_quantization"] == ["01_linear_quantization"]
    assert pairs["ps2_integer_matmul"] == ["02_integer_arithmetic"]
    assert pairs["ps3_ptq_qat"] == ["03_calibration_and_ptq", "04_quantization_aware_training"]
    assert pairs["ps4_llm_outliers"] == ["06_llm_outliers"]
    assert pairs.get("ps5_kmeans", ["07_kmeans_quantization"]) == ["07_kmeans_quantization"]
    for lecture in lectures:
        assert all(lecture in s.partners for s in lecture.partners)


def test_topic_words():
    assert book.topic_words("04_quantization_aware_training") == {"aware", "training", "qat"}
    assert book.topic_words("ps3_ptq_qat") == {"ptq", "qat"}
    assert book.topic_words("08_product_quantization") == {"product"}


def test_offline_configuration():
    import yaml
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text(encoding="utf-8"))
    assert config["execute"]["allow_errors"] is False and config["execute"]["raise_on_error"] is True
    assert config["execute"]["run_in_temp"] is False and config["execute"]["timeout"] >= 600
    assert config["launch_buttons"]["thebe"] is False
    assert not any(config["launch_buttons"][k] for k in ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url"))
    assert "sphinx-mathjax-offline" in config["sphinx"]["extra_extensions"]


# -- slow: the whole site, built -------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    lectures = sorted(p.stem for p in (ROOT / "lectures").glob("*.ipynb"))
    solutions = sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))
    out = tmp_path_factory.mktemp("site")
    index = book.build(out)
    return index.parent, lectures, solutions


def _pages(html: Path) -> list:
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts)


@pytest.mark.slow
def test_every_lecture_and_solution_has_a_page(site):
    html, lectures, solutions = site
    assert lectures and solutions
    for stem in lectures:
        assert (html / "lectures" / f"{stem}.html").is_file(), stem
    for stem in solutions:
        assert (html / "solutions" / f"{stem}.html").is_file(), stem


@pytest.mark.slow
def test_lecture_pages_show_their_figures(site):
    html, lectures, _ = site
    for stem in lectures:
        page = html / "lectures" / f"{stem}.html"
        sources = re.findall(r'<img[^>]*\ssrc="([^"]+)"', page.read_text(encoding="utf-8"))
        pngs = [s for s in sources if s.startswith("data:image/png") or s.endswith(".png") and "_images/" in s]
        assert pngs, f"{stem}: no PNG figure on the page"
        for src in pngs:
            if not src.startswith("data:"):
                assert (page.parent / src).resolve().is_file(), f"{stem}: {src} missing"


@pytest.mark.slow
def test_no_page_shows_a_traceback_or_an_error_output(site):
    html, _, _ = site
    for page in _pages(html):
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, page.name
        assert 'class="output traceback' not in text, page.name
        for stderr in re.findall(r'class="output stderr.*?</pre>', text, flags=re.S):
            assert "Error" not in stderr, f"{page.name}: {stderr[:300]}"


def test_raw_dollars_finds_math_that_was_not_typeset():
    typeset = '<p>a <span class="math notranslate nohighlight">\\(x\\)</span> b</p><pre>echo $HOME</pre>'
    broken = ('<li><p>per subspace,\n$<span class="math notranslate nohighlight">\\(c\\)</span>'
              '<span class="math notranslate nohighlight">\\(\nWith \\)</span>K = 2^b$.</p></li>')
    assert raw_dollars(typeset) == []
    assert len(raw_dollars(broken)) == 2 and "K = 2^b" in raw_dollars(broken)[1]


@pytest.mark.slow
def test_no_page_leaves_raw_dollar_signs(site):
    """Display math the site's Markdown parser did not recognise shows up as ``$`` in the prose (and the
    text after it typeset as a formula); JupyterLab renders the same cell correctly, so only the site shows it."""
    html, _, _ = site
    for page in _pages(html):
        found = raw_dollars(page.read_text(encoding="utf-8"))
        assert not found, f"{page.relative_to(html)}: raw $ in the rendered text: {found[:3]}"


@pytest.mark.slow
def test_index_and_sidebar_link_every_page(site):
    html, lectures, solutions = site
    index = html / "index.html"
    text = index.read_text(encoding="utf-8")
    main = text[text.index('<main'):]
    sidebar = text[text.index('bd-docs-nav'):]
    sidebar = sidebar[: sidebar.index("</nav>")]
    for folder, stems in (("lectures", lectures), ("solutions", solutions)):
        for stem in stems:
            assert f'href="{folder}/{stem}.html"' in main, f"course table lacks {folder}/{stem}"
            assert f'href="{folder}/{stem}.html"' in sidebar, f"sidebar lacks {folder}/{stem}"
    lecture = (html / "lectures" / "01_linear_quantization.html").read_text(encoding="utf-8")
    assert 'href="../solutions/ps1_linear_quantization.html"' in lecture
    solution = (html / "solutions" / "ps1_linear_quantization.html").read_text(encoding="utf-8")
    assert 'href="../lectures/01_linear_quantization.html"' in solution


@pytest.mark.slow
def test_nothing_is_loaded_from_the_network(site):
    html, _, _ = site
    pages = _pages(html)
    assert len(pages) > 5
    for page in pages:
        remote = [a for a in _parse(page).assets if re.match(r"(https?:)?//", a)]
        assert remote == [], f"{page.relative_to(html)} loads {remote}"
    lecture = html / "lectures" / "01_linear_quantization.html"
    mathjax = [a for a in _parse(lecture).assets if "mathjax" in a.lower()]
    assert mathjax and all(not a.startswith(("http", "//")) for a in mathjax)
    assert all((lecture.parent / a.split("?")[0]).resolve().is_file() for a in mathjax), mathjax
    assert "math notranslate" in lecture.read_text(encoding="utf-8")  # the lecture's math is there to render


@pytest.mark.slow
def test_a_failing_cell_fails_the_build(tmp_path):
    lectures, solutions = tmp_path / "lectures", tmp_path / "solutions"
    lectures.mkdir()
    solutions.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lecture 1 — Broken"),
                                         nbformat.v4.new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lectures / "01_broken.ipynb")
    with pytest.raises(SystemExit) as info:
        book.build(tmp_path / "out", lectures, solutions)
    assert "failed" in str(info.value)
    assert not (tmp_path / "out" / "_build" / "html" / "lectures" / "01_broken.html").exists()
