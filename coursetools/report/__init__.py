"""The class report: one self-contained HTML page an instructor reads after autograding.

``write_report(course, assignment, results)`` takes the results dict written by
``coursetools.autograde.autograde`` (the schema is in its docstring and
``reports/<id>/results.json``) and writes into ``<course>/reports/<assignment>/``:

- ``grades.png``      histogram of the scores
- ``pass_rates.png``  share of scored submissions that pass each test, hardest first (which
                      exercise is hard), in the order of the page's table
- ``pass_rates.csv``  the same as a table
- ``index.html``      one page with both plots embedded (no CDN, no external file needed),
                      the pass-rate table, the submissions graded with problems and those
                      that could not be graded and why, the flagged submissions to review by
                      hand, the time grading took, and for each student links to their
                      graded notebook, feedback and grading log.

Who counts: every submission with a score is in the statistics, also one that timed out or
crashed in a cell (those cells score 0, the rest is graded): it is "graded, with problems".
Only a submission without a score "could not be graded", and the statistics say how many
they leave out. Reasons name cells by their test or function (``coursetools.cell_names``),
and the links (``coursetools.report.links``) are relative to the page.

``python -m coursetools report`` rebuilds the page from ``results.json``. The plots are
drawn by ``coursetools.report.plots``; a new plot goes there, and into the page here.
"""

import base64
import csv
import functools
import html
import statistics
from collections import OrderedDict
from pathlib import Path

from coursetools.cell_names import (
    mentions_cells,
    name_cells,
    released_cell_names,
    student_cell_names,
)
from coursetools.course import Course
from coursetools.report.formgrader_links import formgrader_links
from coursetools.report.links import student_files
from coursetools.report.plots import plot_histogram, plot_pass_rates


def manual_cells(course, assignment):
    """``{(notebook, grade_id): points}`` of the cells graded by hand (written answers).

    nbgrader grades a cell by hand when it is both a grade and a solution cell; the
    autograder leaves it at 0 until an instructor grades it (formgrader). Read from
    ``source/`` (or ``release/`` when there is no source).
    """
    import nbformat

    course = Course.of(course)
    for kind in ("source", "release"):
        notebooks = list(course.notebooks(kind, assignment).values())
        if notebooks:
            break
    found = {}
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # an unreadable notebook only costs the distinction
            continue
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and meta.get("solution"):
                found[(path.stem, meta.get("grade_id", ""))] = float(meta.get("points") or 0)
    return found


GRADED, WITH_PROBLEMS, UNGRADED = "graded", "graded, with problems", "could not be graded"


def standing(sub):
    """How a submission counts: a score makes it graded, even when a cell timed out or the
    kernel died (the cells that did not finish score 0); no score, not graded."""
    if sub.get("score") is None:
        return UNGRADED
    return GRADED if sub.get("status") == "graded" else WITH_PROBLEMS


def _pass_rates(submissions, manual=()):
    """Per autograded test (in notebook order): passes, count, points over ``submissions``."""
    rates = OrderedDict()
    for sub in submissions:
        for test in sub.get("tests", []):
            key = (test.get("notebook", ""), test.get("grade_id", ""))
            if key in manual or test.get("manual"):
                continue
            row = rates.setdefault(
                key, {"passed": 0, "count": 0, "points": 0.0, "max_points": test["max_points"]}
            )
            row["count"] += 1
            row["passed"] += bool(test.get("passed"))
            row["points"] += float(test.get("points") or 0.0)
    return rates


def _hardest_first(rates):
    """``rates`` by pass rate, lowest first; ties keep notebook order. The chart, the table
    and the CSV all use this one order."""
    return OrderedDict(sorted(rates.items(),
                              key=lambda kv: kv[1]["passed"] / max(kv[1]["count"], 1)))


def _cell_namer(course, assignment):
    """``name(student, text)``: ``text`` with cell numbers replaced by cell names. Notebooks
    are read only for a text that mentions a cell, each at most once."""
    released = functools.cache(lambda: released_cell_names(course, assignment))
    own = functools.cache(
        lambda student: student_cell_names(course, assignment, student, released()))

    def name(student, text):
        return name_cells(text, own(student)) if mentions_cells(text) else (text or "")

    return name


def _with_names(sub, name):
    """A copy of ``sub`` whose reason and flags name cells (results.json may predate the
    grader naming them itself)."""
    student = sub.get("student", "?")
    return dict(sub, student=student, reason=name(student, sub.get("reason")),
                flags=[name(student, flag) for flag in sub.get("flags") or []])


class _Html(str):
    """A table cell that is markup already (links), not text to escape."""


def _img(path, alt):
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<a href="{html.escape(Path(path).name)}"><img alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{data}"></a>')


def _cell(value):
    return value if isinstance(value, _Html) else html.escape(str(value))


def _table(headers, rows, empty):
    if not rows:
        return f"<p class=empty>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _links(files):
    if not files:
        return "-"
    return _Html("<span class=nowrap>" + " · ".join(
        f'<a href="{html.escape(href)}">{html.escape(label)}</a>' for label, href in files)
        + "</span>")


def _score(sub, max_score):
    """ "24 / 30" on one line ("-" for no score)."""
    text = f"{_fmt(sub.get('score')) or '-'} / {_fmt(sub.get('max_score', max_score))}"
    return _Html(f"<span class=nowrap>{html.escape(text)}</span>")


def _fmt(value):
    return "" if value is None else f"{float(value):g}"


def _over(scored, ungraded):
    """What the statistics are over: "over 9 students; 1 could not be graded"."""
    text = f"over {scored} student{'' if scored == 1 else 's'}"
    return f"{text}; {ungraded} could not be graded" if ungraded else text


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f2f2f2} img{max-width:100%} .empty{color:#666;font-style:italic}
.summary td:first-child{font-weight:bold} td{vertical-align:top} .nowrap{white-space:nowrap}
"""


def _write_rates_csv(rates, path):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["notebook", "grade_id", "passed", "graded", "pass_rate",
                         "mean_points", "max_points"])
        for (notebook, grade_id), r in rates.items():
            pct = r["passed"] / r["count"] if r["count"] else 0.0
            writer.writerow([notebook, grade_id, r["passed"], r["count"], f"{pct:.3f}",
                             f"{r['points'] / max(r['count'], 1):.3f}", r["max_points"]])


def _rate_rows(rates):
    rows = []
    for (notebook, grade_id), r in rates.items():
        pct = 100.0 * r["passed"] / r["count"] if r["count"] else 0.0
        mean = r["points"] / r["count"] if r["count"] else 0.0
        rows.append([notebook, grade_id, f"{r['passed']}/{r['count']}", f"{pct:.0f}%",
                     f"{mean:.2f} / {r['max_points']:g}"])
    return rows


def _kernels(kernels):
    """How the kernels started: warm ones were forked ready from a template."""
    text = f"{kernels.get('warm', 0)} started warm, {kernels.get('cold', 0)} cold"
    if kernels.get("cold_reason"):
        text += f" (warm start unavailable: {kernels['cold_reason']}; the grades are the same)"
    return text


def _summary(results, subs, scored, ungraded, manual, max_score):
    scores = [float(s["score"]) for s in scored]
    over = _over(len(scored), len(ungraded))
    with_problems = sum(standing(s) == WITH_PROBLEMS for s in scored)
    rows = [
        ["submissions", len(subs)],
        ["graded", f"{len(scored)}" + (f" ({with_problems} with problems, see below)"
                                       if with_problems else "")],
        ["could not be graded", f"{len(ungraded)}" + (" (no score: not in the statistics)"
                                                      if ungraded else "")],
        ["flagged for review", sum(bool(s.get("flags")) for s in subs)],
        ["mean score", f"{statistics.mean(scores):.2f} / {max_score:g} {over}"
                       if scores else "-"],
        ["median score", f"{statistics.median(scores):g} / {max_score:g} {over}"
                         if scores else "-"],
        ["graded by hand", f"{sum(manual.values()):g} points of written answers "
                           f"({', '.join(g for _, g in manual)}): not in these scores until "
                           "you grade them (make formgrade)" if manual else "nothing"],
        ["started", results.get("started", "")],
        ["kernels", _kernels(results.get("kernels") or {})],
        ["time taken", f"{float(results.get('seconds') or 0):.1f} s with "
                       f"{results.get('jobs', '?')} job(s), "
                       f"sandbox: {results.get('sandbox', '?')}"],
    ]
    return "<table class=summary>" + "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows) + "</table>"


def write_report(course, assignment, results):
    """Write the class report of ``assignment`` under ``<course>/reports/``.

    ``course``: a Course or its folder. Returns the path of ``index.html``.
    """
    course = Course.of(course)
    outdir = course.reports(assignment)
    outdir.mkdir(parents=True, exist_ok=True)
    name = _cell_namer(course, assignment)
    subs = sorted((_with_names(s, name) for s in results.get("submissions", [])),
                  key=lambda s: s["student"])
    scored = [s for s in subs if standing(s) != UNGRADED]
    ungraded = [s for s in subs if standing(s) == UNGRADED]
    max_score = float(results.get("max_score") or max(
        (float(s.get("max_score") or 0) for s in subs), default=0.0))

    plot_histogram([float(s["score"]) for s in scored], max_score, outdir / "grades.png",
                   ungraded=len(ungraded))
    manual = manual_cells(course, assignment)
    rates = _hardest_first(_pass_rates(scored, manual))
    plot_pass_rates(rates, outdir / "pass_rates.png")
    _write_rates_csv(rates, outdir / "pass_rates.csv")

    # the submissions to look at by hand also open in formgrader (while make formgrade runs)
    review = [s["student"] for s in subs if s.get("flags") or s.get("status") != "graded"]
    in_formgrader = formgrader_links(course, assignment, review)
    files = {s["student"]: _links(
        student_files(course, assignment, s["student"], outdir)
        + ([("formgrader", in_formgrader[s["student"]])] if s["student"] in in_formgrader
           else [])) for s in subs}
    problem_rows = [[s["student"], _score(s, max_score), s.get("status", "?"), s["reason"],
                     files[s["student"]]]
                    for s in scored if standing(s) == WITH_PROBLEMS]
    ungraded_rows = [[s["student"], s.get("status", "?"), s["reason"], files[s["student"]]]
                     for s in ungraded]
    flagged_rows = [[s["student"], standing(s), _fmt(s.get("score")), "; ".join(s["flags"]),
                     files[s["student"]]] for s in subs if s["flags"]]
    all_rows = [[s["student"], _score(s, max_score), standing(s), s.get("status", "?"),
                 f"{float(s.get('seconds') or 0):.1f}", s["reason"], files[s["student"]]]
                for s in subs]
    over = _over(len(scored), len(ungraded))

    title = f"Class report: {assignment}"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
{_summary(results, subs, scored, ungraded, manual, max_score)}
<h2>Grades</h2>
<p>Scores {html.escape(over)}.</p>
{_img(outdir / "grades.png", "grade histogram")}
<h2>Which exercise the class struggles with</h2>
<p>Share of the scored submissions ({html.escape(over)}) passing each autograded test,
hardest first, top to bottom in the chart and the table
(<a href="pass_rates.csv">pass_rates.csv</a>).</p>
{_img(outdir / "pass_rates.png", "pass rate per test")}
{_table(["notebook", "test", "passed", "pass rate", "mean points"], _rate_rows(rates),
        "No test results.")}
<h2>Graded, with problems</h2>
<p>A cell ran out of time, the kernel died or a notebook was invalid: what did not run scores
0, the rest is graded, and the score counts in the statistics above.</p>
{_table(["student", "score", "status", "reason", "files"], problem_rows,
        "No submission had problems.")}
<h2>Submissions that could not be graded</h2>
<p>No score: these are not in the statistics above.</p>
{_table(["student", "status", "reason", "files"], ungraded_rows,
        "Every submission has a score.")}
<h2>Flagged for manual review</h2>
<p>The tamper scan found something unusual (edited or deleted test cells, ...):
check these notebooks by hand before releasing grades.</p>
{_table(["student", "graded", "score", "flags", "files"], flagged_rows, "Nothing flagged.")}
<h2>All submissions</h2>
{_table(["student", "score", "graded", "status", "seconds", "reason", "files"], all_rows,
        "No submission.")}
</body></html>
"""
    index = outdir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
