"""The feedback page draws the problem text's formulas offline: ``$...$`` becomes MathML, which a browser
renders with no script and no network; code is left alone."""
import nbformat

from autograder.grading.feedback import feedback_notebook, math_to_mathml, render
from course_helpers import source_notebook


def test_inline_and_display_math_become_mathml():
    out = math_to_mathml(r"The scale $s = \frac{r_{max} - r_{min}}{2^b - 1}$ and $$q = x / s$$ cost $5.")
    assert out.count("<math") == 2 and 'display="block"' in out and 'display="inline"' in out
    assert "$" not in out.replace("$5", "")     # a lone dollar (a price) is not math


def test_code_keeps_its_dollars():
    text = "Run `echo $HOME` and\n```\nx = \"$a$\"\n```\nthen $x$."
    out = math_to_mathml(text)
    assert "`echo $HOME`" in out and '"$a$"' in out and out.count("<math") == 1


def test_a_problem_set_page_has_no_raw_tex():
    nb = nbformat.read(source_notebook("ps1_linear_quantization"), as_version=4)
    page = render("alice", "ps1_linear_quantization", None, feedback_notebook(nb, {}))
    assert "<math" in page
    import re
    code = re.compile(r"```.*?```|`[^`\n]*`", re.S)   # a `$...$` shown as code stays code
    prose = [code.sub("", c.source) for c in feedback_notebook(nb, {}).cells if c.cell_type == "markdown"]
    assert not any("$" in p for p in prose), [p for p in prose if "$" in p][:1]
    assert "mathjax" not in page.lower() or "cdn" not in page.lower()
