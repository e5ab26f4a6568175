"""The class report, on a hand-made results dict (no nbgrader run)."""

import html

from coursetools.report import write_report


def _test(grade_id, passed, max_points=2.0):
    return {"notebook": "nn_from_scratch", "grade_id": grade_id,
            "points": max_points if passed else 0.0, "max_points": max_points, "passed": passed}


def _graded(student, score, passes, flags=()):
    return {"student": student, "status": "graded", "reason": "", "flags": list(flags),
            "score": score, "max_score": 6.0, "seconds": 12.5,
            "tests": [_test(g, p) for g, p in zip(["test_sigmoid", "test_log_loss",
                                                    "test_backprop"], passes, strict=True)]}


def _failed(student, status, reason):
    return {"student": student, "status": status, "reason": reason, "flags": [],
            "score": None, "max_score": 6.0, "seconds": 1.0, "tests": []}


RESULTS = {
    "assignment": "nn_from_scratch", "started": "2025-01-01T10:00:00+00:00", "seconds": 42.0,
    "jobs": 2, "sandbox": "bwrap", "max_score": 6.0,
    "submissions": [
        _graded("alice", 6.0, [True, True, True]),
        _graded("bob", 4.0, [True, True, False]),
        _graded("carol", 2.0, [True, False, False], flags=["test cell test_backprop edited"]),
        _failed("dave", "invalid_notebook", "not valid JSON: Expecting ',' at line 3"),
        _failed("erin", "timeout", "cell took longer than 60 s"),
        _failed("frank", "kernel_died", "the kernel died <exit 3> & did not restart"),
    ],
}


def test_report_files_and_page(tmp_path):
    index = write_report(tmp_path, "nn_from_scratch", RESULTS)
    outdir = tmp_path / "reports" / "nn_from_scratch"
    assert index == outdir / "index.html"
    for name in ("index.html", "grades.png", "pass_rates.png", "pass_rates.csv"):
        assert (outdir / name).is_file() and (outdir / name).stat().st_size > 0, name
    assert (outdir / "grades.png").read_bytes().startswith(b"\x89PNG")

    page = index.read_text()
    for sub in RESULTS["submissions"]:
        if sub["status"] != "graded":
            assert sub["student"] in page
            assert html.escape(sub["reason"]) in page, sub["reason"]
    assert "test cell test_backprop edited" in page  # flagged for review
    assert "42.0 s" in page and "bwrap" in page  # time taken
    # self-contained: the plots are embedded, nothing is fetched from elsewhere
    assert page.count("data:image/png;base64,") == 2
    assert "http://" not in page and "https://" not in page

    # the table is hardest first: backprop (1/3) before sigmoid (3/3)
    assert page.index("test_backprop") < page.index("test_sigmoid")
    csv_text = (outdir / "pass_rates.csv").read_text()
    assert "test_backprop,1,3" in csv_text


def test_report_without_graded_submissions(tmp_path):
    results = dict(RESULTS, submissions=[_failed("dave", "error", "boom")])
    page = write_report(tmp_path, "a1", results).read_text()
    assert "dave" in page and "boom" in page


def test_answers_graded_by_hand_are_not_pass_rates(tmp_path):
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    cell = new_markdown_cell("YOUR ANSWER HERE", metadata={"nbgrader": {
        "grade": True, "solution": True, "grade_id": "recap", "points": 2, "locked": False,
        "schema_version": 3}})
    folder = tmp_path / "source" / "nn_from_scratch"
    folder.mkdir(parents=True)
    nbformat.write(new_notebook(cells=[cell]), folder / "nn_from_scratch.ipynb")
    subs = [dict(s, tests=[*s["tests"], _test("recap", False)]) for s in RESULTS["submissions"]]
    index = write_report(tmp_path, "nn_from_scratch", dict(RESULTS, submissions=subs))
    assert "recap" not in (index.parent / "pass_rates.csv").read_text()
    assert "2 points of written answers (recap)" in index.read_text()


# --- who is counted, and how the page names them (issue 13, item 8) ------------------------

def _scored_with_problem(student, status, score, reason, passes, flags=()):
    """A submission whose kernel timed out or died in one cell: scored all the same."""
    return dict(_graded(student, score, passes, flags), status=status, reason=reason)


def _notebook(path, grade_ids, extra_first=False):
    """A notebook whose cells carry ``grade_ids``, one a cell (None: an ordinary cell,
    "def f": a cell that defines ``f`` without nbgrader metadata)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cells = [new_code_cell("print('added by the student')")] if extra_first else []
    for grade_id in grade_ids:
        if grade_id is None or grade_id.startswith("def "):
            source = "x = 1" if grade_id is None else f"{grade_id}(x):\n    return x"
            cells.append(new_code_cell(source))
            continue
        meta = {"nbgrader": {
            "grade": grade_id.startswith("test_"), "solution": not grade_id.startswith("test_"),
            "grade_id": grade_id, "points": 2 if grade_id.startswith("test_") else 0,
            "locked": grade_id.startswith("test_"), "schema_version": 3}}
        source = "x = 1" if grade_id.startswith("test_") else f"def {grade_id}(x):\n    return x"
        cells.append(new_code_cell(source, metadata=meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells), path)


# cell 0 is an ordinary cell, then solution and test cells
RELEASED_CELLS = [None, "sigmoid", "test_sigmoid", "log_loss", None, "test_log_loss",
                  "backprop", "test_backprop"]

CLASS = dict(RESULTS, submissions=[
    _graded("alice", 6.0, [True, True, True]),
    _graded("bob", 4.0, [True, False, True]),
    _graded("carol", 2.0, [True, False, False], flags=["test cell test_backprop edited"]),
    _failed("dave", "invalid_notebook", "not valid JSON: Expecting ',' at line 3"),
    _scored_with_problem("erin", "timeout", 4.0, "cell 5 ran longer than the time limit and "
                         "was interrupted (scored 0)", [True, False, True],
                         flags=["cell 1: output flood, truncated"]),
    _scored_with_problem("frank", "kernel_died", 2.0, "the kernel exited with status 1 (in "
                         "cell 7); 1 later cell(s) not run, scored 0", [True, False, False]),
    _failed("gwen", "error", "the autograder failed on this submission: OSError: disk full"),
])


def _class_course(tmp_path):
    """A course with CLASS's released notebook, and files of some students to link to."""
    _notebook(tmp_path / "release" / "nn_from_scratch" / "nn_from_scratch.ipynb",
              RELEASED_CELLS)
    # frank added a cell at the top: his own graded notebook, not release/, says what cell
    # 7 is (backprop there, test_backprop in release/)
    _notebook(tmp_path / "autograded" / "frank" / "nn_from_scratch" / "nn_from_scratch.ipynb",
              RELEASED_CELLS, extra_first=True)
    _notebook(tmp_path / "autograded" / "alice" / "nn_from_scratch" / "nn_from_scratch.ipynb",
              RELEASED_CELLS)
    feedback = tmp_path / "feedback" / "alice" / "nn_from_scratch" / "nn_from_scratch.html"
    feedback.parent.mkdir(parents=True)
    feedback.write_text("<html></html>")
    logs = tmp_path / "reports" / "nn_from_scratch" / "logs"
    logs.mkdir(parents=True)
    for student in ("alice", "dave"):
        (logs / f"{student}.log").write_text("log\n")
    return tmp_path


def _section(page, heading):
    """The page from the heading ``<h2>heading`` to the next heading."""
    start = page.index(f"<h2>{heading}")
    end = page.find("<h2>", start + 4)
    return page[start:end if end >= 0 else len(page)]


def test_statistics_count_every_scored_submission(tmp_path, monkeypatch):
    import coursetools.report as report

    drawn = {}
    real = report.plot_histogram
    monkeypatch.setattr(report, "plot_histogram", lambda scores, *args, **kwargs: (
        drawn.setdefault("scores", sorted(scores)), real(scores, *args, **kwargs))[-1])
    page = write_report(_class_course(tmp_path), "nn_from_scratch", CLASS).read_text()
    # erin (timed out) and frank (kernel died) have scores: 6, 4, 2, 4, 2 of 5 students
    assert drawn["scores"] == [2.0, 2.0, 4.0, 4.0, 6.0]
    assert "3.60 / 6" in page and "median score</td><td>4 / 6" in page
    assert "over 5 students; 2 could not be graded" in page
    csv_text = (tmp_path / "reports" / "nn_from_scratch" / "pass_rates.csv").read_text()
    assert "test_sigmoid,5,5" in csv_text and "test_log_loss,1,5" in csv_text


def test_scored_timeouts_and_crashes_are_graded_with_problems(tmp_path):
    page = write_report(_class_course(tmp_path), "nn_from_scratch", CLASS).read_text()
    problems = _section(page, "Graded, with problems")
    ungraded = _section(page, "Submissions that could not be graded")
    for student in ("erin", "frank"):
        assert student in problems and student not in ungraded, student
    assert "timeout" in problems and "kernel_died" in problems
    for student in ("dave", "gwen"):
        assert student in ungraded and student not in problems, student
    assert "disk full" in ungraded and "not valid JSON" in ungraded


def test_reasons_name_tests_and_functions_not_cell_numbers(tmp_path):
    page = write_report(_class_course(tmp_path), "nn_from_scratch", CLASS).read_text()
    # erin: no graded notebook of hers, so release/ names cell 5 (and cell 1 of her flag)
    assert "test_log_loss ran longer than the time limit" in page
    assert "sigmoid: output flood, truncated" in page
    # frank: his own graded notebook names cell 7, one further down than in release/
    assert "(in backprop)" in page
    assert "cell 5" not in page and "cell 7" not in page and "cell 1:" not in page


def test_cells_without_a_grade_id_are_named_by_function_or_neighbour(tmp_path):
    from coursetools.cell_names import name_cells, released_cell_names

    _notebook(tmp_path / "release" / "a1" / "nb.ipynb",
              [None, "sigmoid", "test_sigmoid", None, "def summed_loss"])
    names = released_cell_names(tmp_path, "a1")
    assert name_cells("cell 1 ran too long", names) == "sigmoid ran too long"
    assert name_cells("cell 4, line 2: rebinds numpy.exp", names) == \
        "summed_loss, line 2: rebinds numpy.exp"
    assert name_cells("died (in cell 3)", names) == "died (in the cell after test_sigmoid)"
    assert name_cells("cell 1, 2 ran longer", names) == "sigmoid, test_sigmoid ran longer"
    assert name_cells("cell 0 ran too long", names) == "cell 0 ran too long"  # nothing before
    assert name_cells("cell 9 ran too long", names) == "cell 9 ran too long"  # not in it
    # with several notebooks, each part of a reason names the cell of its own notebook
    two = {"nb": names["nb"], "other": {2: "test_other"}}
    assert name_cells("nb: cell 2 ran; other: cell 2 ran", two) == \
        "nb: test_sigmoid ran; other: test_other ran"
    assert name_cells("cell 2 ran", two) == "cell 2 ran"  # which notebook's: unknown


def test_rows_link_to_notebook_feedback_and_log(tmp_path):
    import re

    index = write_report(_class_course(tmp_path), "nn_from_scratch", CLASS)
    rows = _section(index.read_text(), "All submissions")
    links = re.findall(r'href="([^"]+)"', rows)
    assert "../../autograded/alice/nn_from_scratch/nn_from_scratch.ipynb" in links
    assert "../../feedback/alice/nn_from_scratch/nn_from_scratch.html" in links
    assert "logs/alice.log" in links and "logs/dave.log" in links
    assert "../../autograded/frank/nn_from_scratch/nn_from_scratch.ipynb" in links
    # only files that exist are linked: nothing of bob's, no feedback of frank's
    assert not [link for link in links if "bob" in link or "feedback/frank" in link]
    for link in links:
        assert (index.parent / link).is_file(), link


def _pass_rate_table_order(page):
    import re

    table = _section(page, "Which exercise the class struggles with")
    return re.findall(r"<td>(test_\w+)</td>", table)


def test_pass_rate_chart_is_in_the_table_order(tmp_path, monkeypatch):
    import coursetools.report as report

    drawn = []
    real = report.plot_pass_rates
    monkeypatch.setattr(report, "plot_pass_rates", lambda rates, *args, **kwargs: (
        drawn.extend(grade_id for _, grade_id in rates), real(rates, *args, **kwargs))[-1])
    page = write_report(_class_course(tmp_path), "nn_from_scratch", CLASS).read_text()
    table = _pass_rate_table_order(page)
    assert table == ["test_log_loss", "test_backprop", "test_sigmoid"]  # hardest first
    assert drawn == table


def test_pass_rate_chart_draws_its_rates_top_to_bottom(tmp_path):
    from coursetools.report.plots import plot_pass_rates

    rates = {("nb", name): {"passed": passed, "count": 4, "points": 0.0, "max_points": 1.0}
             for name, passed in [("test_hard", 0), ("test_middle", 2), ("test_easy", 4)]}
    figure = plot_pass_rates(rates, tmp_path / "rates.png")
    axes = figure.axes[0]
    ticks = sorted(zip(axes.get_yticks(), axes.get_yticklabels(), strict=True),
                   key=lambda tick: -axes.transData.transform((0, tick[0]))[1])
    assert [label.get_text() for _, label in ticks] == ["test_hard", "test_middle", "test_easy"]
