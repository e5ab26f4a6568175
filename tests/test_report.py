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
