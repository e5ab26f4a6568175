"""Grade the catalogue of student implementations through the notebook's real test cells.

Every entry of the catalogue (``tests/catalogue/``: right implementations written
differently, and the mistakes students make) replaces the reference solution of the
functions it names and is graded by the test cells of the source notebook, hidden tests
included (``coursetools.catalogue``). A right one must get full marks, a wrong one must lose
points on the tests of its functions.

    python -m coursetools catalogue [--summary] [--entry NAME ...] [--catalogue DIR]
"""

import time
from pathlib import Path

from coursetools.catalogue import CATALOGUE_DIR, NOTEBOOK, load_catalogue
from coursetools.catalogue.plan import plan, read_notebook
from coursetools.catalogue.verdicts import (
    EntryResult,
    grade,
    outcome,
    summary_table,
    verdict_problem,
)
from coursetools.course import CourseError


def add_arguments(parser):
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK,
                        help="the source notebook whose tests grade (default: the course's)")
    parser.add_argument("--catalogue", type=Path, default=CATALOGUE_DIR,
                        help="the catalogue package (default: tests/catalogue)")
    parser.add_argument("--summary", action="store_true", help="print the catch/accept table")
    parser.add_argument("--entry", action="append", default=[], help="show one entry's cells")
    parser.add_argument("--jobs", type=int, default=None, help="processes at once")


def _show_entries(entries, results):
    for e in entries:
        r = results[e.name]
        print(f"{e.name} ({e.verdict}: {e.why}) -> {outcome(e, r)}")
        for c in r.tests:
            print(f"  {c.grade_id:28} {','.join(c.functions):24} {c.earned:g}/{c.points:g}"
                  f"  {c.message.splitlines()[0][:120] if c.message else ''}")
        for error in r.errors:
            print(f"  raised: {error}")
        if r.crashed:
            print(f"  crashed: {r.crashed}")


def run(course, args):
    catalogue = load_catalogue(args.catalogue)
    unknown = [n for n in args.entry if n not in catalogue.BY_NAME]
    if unknown:
        raise CourseError(f"no catalogue entry {', '.join(unknown)} in {args.catalogue}")
    entries = [catalogue.BY_NAME[n] for n in args.entry] if args.entry else catalogue.ENTRIES
    started = time.perf_counter()
    results = grade(entries, args.notebook, args.jobs)
    elapsed = time.perf_counter() - started
    if args.entry:
        _show_entries(entries, results)
    else:
        print(summary_table(entries, results))
        for e in entries:
            problem = verdict_problem(e, results[e.name])
            if problem:
                print("\n" + problem)
    reference = results["reference"]
    lost = [c for c in reference.tests if not c.passed]
    earned, total = EntryResult.score(reference.tests)
    print(f"\nreference solution: {earned:g}/{total:g} points"
          + (f", LOST on {[c.grade_id for c in lost]}" if lost else ""))
    skipped = [c.grade_id for c in plan(read_notebook(args.notebook))
               if c.kind == "skip" and c.points]
    if skipped:
        print(f"graded test cells not run here (see SKIP_CELL_IDS): {', '.join(skipped)}")
    print(f"graded {len(results)} notebooks in {elapsed:.1f} s")
    return 0
