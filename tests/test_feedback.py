"""Feedback shows every test's result and points but not the source of hidden tests."""

import html
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell
from quick_course import (
    ASSIGNMENT,
    CORRECT,
    HIDDEN_CANARY,
    JUDGE,
    NOTEBOOK,
    WRONG_HIDDEN,
    generate_course,
    new_source_notebook,
    source_notebook,
    submission,
    submit,
    written_answer,
)

from coursetools import cli
from coursetools.course import REPOSITORY as COURSE_ROOT
from coursetools.course import Course
from coursetools.preprocessors import hide_hidden_tests as feedback

pytestmark = pytest.mark.slow


def _text(path):
    """What a reader sees: the page without tags (syntax highlighting splits code into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


# Formulas as the assignment writes them: inline, display with what mathtext lacks (\bigl,
# \qquad, a line break), and one mathtext cannot draw at all (an aligned environment).
FORMULAS = r"""The sigmoid is $\sigma(z) = \frac{1}{1 + e^{-z}}$ and its derivative is
$$
\sigma'(z) = \sigma(z)\,\bigl(1 - \sigma(z)\bigr) \qquad
(n, 1)
$$
Two lines: $$\begin{aligned} a &= b \\ c &= d \end{aligned}$$"""
# One line of words and one unbroken token, each wider than any page.
LONG_OUTPUT = 'print(" ".join(["a-long-hint"] * 40))\nprint("x" * 400)'


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The one-exercise quick course, plus formulas, a written answer and a long output."""
    cells = source_notebook(("sigmoid",)).cells
    cells[1:1] = [new_markdown_cell(FORMULAS)]
    cells += [written_answer("recap_sigmoid", "Why is sigmoid(0) one half?"),
              new_code_cell(LONG_OUTPUT)]
    root = generate_course(tmp_path_factory.mktemp("course"), ASSIGNMENT, f"{NOTEBOOK}.ipynb",
                           new_source_notebook(cells), JUDGE)
    submit(root, "alice", submission(root, sigmoid=CORRECT))
    submit(root, "bob", submission(root, sigmoid=WRONG_HIDDEN))
    Course(root).nbgrader("autograde", ASSIGNMENT, "--force")
    return root


def _feedback(root, student):
    return root / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html"


def test_strip_keeps_the_rest():
    pre = feedback.HideHiddenTests()
    source, found = pre.hide_blocks("a = 1\n    ### BEGIN HIDDEN TESTS\n    secret()\n"
                              "    ### END HIDDEN TESTS\nb = 2")
    assert found
    assert source == f"a = 1\n    {feedback.HIDDEN_NOTE}\nb = 2"
    assert pre.hide_blocks("x = 1") == ("x = 1", False)


def test_feedback_hides_hidden_tests(course):
    assert cli.main(["feedback", "--course", str(course), "--assignment", ASSIGNMENT]) == 0
    for student, score in (("alice", "2.0 / 2.0"), ("bob", "0.0 / 2.0")):
        page = _feedback(course, student)
        assert page.is_file(), student
        text = _text(page)
        assert HIDDEN_CANARY not in text, f"{student}'s feedback shows a hidden test"
        assert "hidden tests: their result and points are shown" in text
        assert score in text, f"{student}'s feedback lacks the points"
        assert "sigmoid(0) should be 0.5" in text  # the visible test is shown
    # bob failed the hidden test: he sees that it failed, not the lines of the traceback
    assert "AssertionError" in _text(_feedback(course, "bob"))
    assert feedback.TRACEBACK_NOTE in _text(_feedback(course, "bob"))


def test_show_hidden_tests_restores_nbgrader(course):
    argv = ["feedback", "--course", str(course), "--assignment", ASSIGNMENT, "--student",
            "alice"]
    assert cli.main([*argv, "--show-hidden-tests"]) == 0
    assert HIDDEN_CANARY in _text(_feedback(course, "alice"))
    assert cli.main(argv) == 0
    assert HIDDEN_CANARY not in _text(_feedback(course, "alice"))


def test_plain_nbgrader_uses_the_course_default(course):
    Course(course).nbgrader("generate_feedback", ASSIGNMENT, "--force")
    for student in ("alice", "bob"):
        assert HIDDEN_CANARY not in _text(_feedback(course, student))
    # the course's page too: its contents, no MathJax
    assert "test_sigmoid — 2 / 2" in _contents(_feedback(course, "alice"))
    assert len(_formulas(_feedback(course, "alice").read_text())) == 2


def test_nothing_autograded_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "nbgrader_config.py").write_text("")
    assert cli.main(["feedback", "--course", str(tmp_path), "--assignment", ASSIGNMENT]) == 1
    assert "run `make autograde` first" in capsys.readouterr().err


# --- The page itself: contents by name, formulas drawn without the network, nothing clipped ---

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = COURSE_ROOT / "test-artifacts"  # git-ignored: screenshots for a human to look at
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def pages(course):
    """Each student's feedback page, generated by `python -m coursetools feedback`."""
    assert cli.main(["feedback", "--course", str(course), "--assignment", ASSIGNMENT]) == 0
    return {student: _feedback(course, student) for student in ("alice", "bob")}


def _contents(path):
    """The page's table of contents as one line of text."""
    found = re.search(r'<div id="toc">(.*?)</div>', path.read_text(), re.S)
    assert found, "the page has no table of contents"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def test_contents_name_each_test_and_its_points(pages):
    alice, bob = _contents(pages["alice"]), _contents(pages["bob"])
    assert "test_sigmoid — 2 / 2" in alice, alice
    assert "test_sigmoid — 0 / 2" in bob, bob
    assert "test_sigmoid — 2 / 2 (test) recap_sigmoid — 0 / 1 (written answer)" in alice, alice
    for generic in ("Test cell", "Written response"):
        assert generic not in alice
    # every entry still links to its cell
    page = pages["alice"].read_text()
    for grade_id in ("test_sigmoid", "recap_sigmoid"):
        assert f'href="#{grade_id}"' in page and f'name="{grade_id}"' in page


def _formulas(page):
    """The TeX (alt text) of each formula drawn in ``page``, each an SVG inside the page."""
    drawn = []
    for tag in re.findall(r"<img\b[^>]*>", page):
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if "math" in attributes.get("class", "").split():
            assert attributes["src"].startswith("data:image/svg+xml;base64,"), tag[:200]
            drawn.append(html.unescape(attributes["alt"]))
    return drawn


def test_formulas_are_drawn_into_the_page(pages):
    page = pages["alice"].read_text()
    assert "mathjax" not in re.sub(r"<!--.*?-->", "", page, flags=re.S).lower()
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", page), "the page loads a script"
    assert not re.search(r'<(?:link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*"(?:https?:)?//',
                         page), "the page loads something from the network"
    assert _formulas(page) == [
        r"\sigma(z) = \frac{1}{1 + e^{-z}}",
        r"\sigma'(z) = \sigma(z)\,\bigl(1 - \sigma(z)\bigr) \qquad (n, 1)",
    ]
    text = _text(pages["alice"])
    for raw in ("$", r"\frac", r"\bigl"):
        assert raw not in text, f"{raw} left as text"
    # what mathtext cannot draw stays readable, as its TeX source
    assert re.search(r'<code class="tex">\\begin\{aligned\} a &amp;= b', page)


def test_outputs_wrap_instead_of_scrolling(pages):
    head = pages["bob"].read_text().partition("</head>")[0]
    rule = re.search(r"\.output_area pre[^{]*\{([^}]*)\}", head)
    assert rule, "no style for outputs in the page's head"
    assert re.search(r"white-space:\s*pre-wrap", rule.group(1))
    assert re.search(r"overflow:\s*visible", rule.group(1))


@pytest.mark.browser
def test_page_in_a_browser_offline(pages):
    """In Chromium, with every request off the page refused: formulas drawn, nothing clipped."""
    # in a thread of its own: an earlier test's kernel client can leave an asyncio loop
    # running in this one, where Playwright's sync API refuses to start
    with ThreadPoolExecutor(1) as thread:
        refused, drawn, clipped = thread.submit(_look_offline, pages["bob"]).result()
    assert refused == [], "the page asked the network for something"
    assert drawn == [True, True]
    assert clipped == []


def _look_offline(page_path):
    """(requests refused, each formula image drawn, clipped boxes) of the page in Chromium."""
    from playwright.sync_api import sync_playwright

    refused = []

    def refuse_network(route):
        if route.request.url.startswith(("file:", "data:")):
            return route.continue_()
        refused.append(route.request.url)
        return route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 1000})
            page.route("**/*", refuse_network)
            page.goto(page_path.as_uri(), wait_until="load")
            drawn = page.eval_on_selector_all(
                "img.math", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
            clipped = page.eval_on_selector_all(
                ".output_area pre, .input_area pre",
                "pres => pres.filter(p => p.scrollWidth > p.clientWidth + 1)"
                ".map(p => p.textContent.slice(0, 60))")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "feedback-quick-course.png"), full_page=True)
        finally:
            browser.close()
    return refused, drawn, clipped


def test_a_huge_formula_in_an_answer_is_shown_as_tex_not_drawn():
    """A student's answer is drawn in the instructor's process: its size is bounded."""
    from coursetools.feedback_template.formulas import MAX_TEX, formula_html

    assert formula_html("x^2").startswith("<img")
    huge = "x" * (MAX_TEX + 1)
    assert formula_html(huge) == f'<code class="tex">{huge}</code>'
    assert formula_html("<script>" * 100).startswith('<code class="tex">&lt;script&gt;')
