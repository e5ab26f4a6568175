"""The class report: one self-contained HTML page an instructor reads after autograding.

``write_report(course, assignment, results)`` takes the results dict written by
``coursetools.autograde.autograde`` (the schema is in its docstring and
``reports/<id>/results.json``) and writes into ``<course>/reports/<assignment>/``:

- ``grades.png``      histogram of the scores of the graded submissions
- ``pass_rates.png``  share of graded submissions that pass each test (which exercise is hard)
- ``pass_rates.csv``  the same as a table
- ``index.html``      one page with both plots embedded (no CDN, no external file needed),
                      the pass-rate table, the submissions that could not be graded and why,
                      the flagged submissions to review by hand, and the time grading took.

``python -m coursetools report`` rebuilds the page from ``results.json``. The plots are
drawn by ``coursetools.report.plots``; a new plot goes there, and into the page here.
"""

import base64
import csv
import html
from collections import OrderedDict
from pathlib import Path

from coursetools.course import Course
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


def _pass_rates(results, manual=()):
    """Per autograded test (in notebook order): passes, graded count, points."""
    rates = OrderedDict()
    for sub in results.get("submissions", []):
        if sub.get("status") != "graded":
            continue
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


def _img(path, alt):
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<a href="{html.escape(Path(path).name)}"><img alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{data}"></a>')


def _table(headers, rows, empty):
    if not rows:
        return f"<p class=empty>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value):
    return "" if value is None else f"{float(value):g}"


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f2f2f2} img{max-width:100%} .empty{color:#666;font-style:italic}
.summary td:first-child{font-weight:bold}
"""


def write_report(course, assignment, results):
    """Write the class report of ``assignment`` under ``<course>/reports/``.

    ``course``: a Course or its folder. Returns the path of ``index.html``.
    """
    course = Course.of(course)
    outdir = course.reports(assignment)
    outdir.mkdir(parents=True, exist_ok=True)
    subs = results.get("submissions", [])
    graded = [s for s in subs if s.get("status") == "graded" and s.get("score") is not None]
    max_score = float(results.get("max_score") or max(
        (float(s.get("max_score") or 0) for s in subs), default=0.0))
    scores = [float(s["score"]) for s in graded]

    plot_histogram(scores, max_score, outdir / "grades.png")
    manual = manual_cells(course, assignment)
    rates = _pass_rates(results, manual)
    plot_pass_rates(rates, outdir / "pass_rates.png")

    rate_rows = []
    for (notebook, grade_id), r in sorted(
        rates.items(), key=lambda kv: kv[1]["passed"] / max(kv[1]["count"], 1)
    ):
        pct = 100.0 * r["passed"] / r["count"] if r["count"] else 0.0
        mean = r["points"] / r["count"] if r["count"] else 0.0
        rate_rows.append([notebook, grade_id, f"{r['passed']}/{r['count']}", f"{pct:.0f}%",
                          f"{mean:.2f} / {r['max_points']:g}"])
    with open(outdir / "pass_rates.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["notebook", "grade_id", "passed", "graded", "pass_rate",
                         "mean_points", "max_points"])
        for (notebook, grade_id), r in rates.items():
            pct = r["passed"] / r["count"] if r["count"] else 0.0
            writer.writerow([notebook, grade_id, r["passed"], r["count"], f"{pct:.3f}",
                             f"{r['points'] / max(r['count'], 1):.3f}", r["max_points"]])

    failed_rows = [[s.get("student", "?"), s.get("status", "?"), s.get("reason", "")]
                   for s in subs if s.get("status") != "graded"]
    flagged_rows = [[s.get("student", "?"), s.get("status", "?"), _fmt(s.get("score")),
                     "; ".join(s.get("flags") or [])] for s in subs if s.get("flags")]
    all_rows = [[s.get("student", "?"), f"{_fmt(s.get('score')) or '-'} / "
                 f"{_fmt(s.get('max_score', max_score))}", s.get("status", "?"),
                 f"{float(s.get('seconds') or 0):.1f}", s.get("reason", "")]
                for s in sorted(subs, key=lambda s: s.get("student", ""))]

    mean = sum(scores) / len(scores) if scores else None
    median = sorted(scores)[len(scores) // 2] if scores else None
    summary = [
        ["submissions", len(subs)],
        ["graded", len(graded)],
        ["could not be graded", len(failed_rows)],
        ["flagged for review", len(flagged_rows)],
        ["mean score", f"{mean:.2f} / {max_score:g}" if mean is not None else "-"],
        ["median score", f"{median:g} / {max_score:g}" if median is not None else "-"],
        ["graded by hand", f"{sum(manual.values()):g} points of written answers "
                           f"({', '.join(g for _, g in manual)}): not in these scores until "
                           "you grade them (nbgrader formgrader)" if manual else "nothing"],
        ["started", results.get("started", "")],
        ["time taken", f"{float(results.get('seconds') or 0):.1f} s with "
                       f"{results.get('jobs', '?')} job(s), "
                       f"sandbox: {results.get('sandbox', '?')}"],
    ]
    summary_html = "<table class=summary>" + "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in summary) + "</table>"

    title = f"Class report: {assignment}"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
{summary_html}
<h2>Grades</h2>
{_img(outdir / "grades.png", "grade histogram")}
<h2>Which exercise the class struggles with</h2>
<p>Share of graded submissions passing each autograded test, hardest first
(<a href="pass_rates.csv">pass_rates.csv</a>).</p>
{_img(outdir / "pass_rates.png", "pass rate per test")}
{_table(["notebook", "test", "passed", "pass rate", "mean points"], rate_rows,
        "No test results.")}
<h2>Submissions that could not be graded</h2>
{_table(["student", "status", "reason"], failed_rows, "Every submission was graded.")}
<h2>Flagged for manual review</h2>
<p>The tamper scan found something unusual (edited or deleted test cells, ...):
check these notebooks by hand before releasing grades.</p>
{_table(["student", "status", "score", "flags"], flagged_rows, "Nothing flagged.")}
<h2>All submissions</h2>
{_table(["student", "score", "status", "seconds", "reason"], all_rows, "No submission.")}
</body></html>
"""
    index = outdir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
