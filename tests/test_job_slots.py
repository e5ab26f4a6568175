"""Each job slot's kernels run on cores of their own (``coursetools.autograde.pool``)."""

import json
import os
from pathlib import Path

import pytest
import quick_course as qc

from coursetools.autograde import autograde
from coursetools.autograde.pool import kernel_threads, slot_cores

pytestmark = pytest.mark.slow

PRINT_CORES = "import os\nprint('cores', sorted(os.sched_getaffinity(0)))"


def _cores_of_each_kernel(course, students):
    """The cores each student's kernel was allowed, as its notebook printed them."""
    seen = {}
    for student in students:
        path = Path(course) / "autograded" / student / qc.ASSIGNMENT / f"{qc.NOTEBOOK}.ipynb"
        for cell in json.loads(path.read_text())["cells"]:
            for output in cell.get("outputs", []):
                text = "".join(output.get("text", ""))
                if text.startswith("cores "):
                    seen[student] = tuple(json.loads(text.split(" ", 1)[1]))
    return seen


def _grade(standin_template, folder, jobs, students=4):
    course = qc.copy_course(standin_template, folder / "course")
    names = [f"s{i}" for i in range(students)]
    for name in names:
        qc.submit(course, name, qc.insert_after(qc.submission(course), "relu", PRINT_CORES))
    results = autograde(course, qc.ASSIGNMENT, jobs=jobs, progress=False, report=False)
    assert {s["status"] for s in results["submissions"]} == {"graded"}
    return _cores_of_each_kernel(course, names)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_two_jobs_each_keep_a_core_of_their_own(standin_template, tmp_path):
    seen = _grade(standin_template, tmp_path, jobs=2)
    assert len(seen) == 4
    # every kernel on its slot's cores, and the two slots on different ones
    slots = slot_cores(2, kernel_threads(2, 4))
    assert set(seen.values()) == {tuple(cores) for cores in slots}
    assert not set(slots[0]) & set(slots[1])


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_more_jobs_than_cores_share_them_all(standin_template, tmp_path):
    jobs = len(os.sched_getaffinity(0)) + 1
    seen = _grade(standin_template, tmp_path, jobs=jobs, students=jobs)
    assert set(seen.values()) == {tuple(sorted(os.sched_getaffinity(0)))}


def test_the_cores_are_shared_out_by_the_kernels_threads(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert slot_cores(2, kernel_threads(2, 10)) == [[0, 1], [2, 3]]
    assert slot_cores(4, kernel_threads(4, 10)) == [[0], [1], [2], [3]]
    # one submission for two jobs: its kernel has every core's thread, no slot is pinned
    assert kernel_threads(2, 1) == 4 and slot_cores(2, 4) is None
    assert slot_cores(5, kernel_threads(5, 10)) is None
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 3, 5, 6})  # a cpuset
    assert slot_cores(2, kernel_threads(2, 10)) == [[0, 2, 3], [5, 6]]
