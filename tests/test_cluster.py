"""Grading on a Dask cluster: a real scheduler and two real workers, separate processes.

``dask scheduler`` and two ``dask worker --nthreads 1`` run as subprocesses on localhost
(each its own process, nothing shared with the test but the network, as on a cluster). A
class of quick-course submissions (every way a submission can end) graded through them
must get exactly the grades of the local engine, also when one worker is killed while it
grades; a scheduler that is not there, or whose workers cannot run the sandbox, is one
CourseError before anything is written.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from worker_killer import KillWhenBusy

from coursetools.autograde import autograde, cluster
from coursetools.autograde.cluster_bench import LocalProcesses
from coursetools.course import Course, CourseError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    running = LocalProcesses(tmp_path_factory.mktemp("dask"))
    yield running
    running.close()


SLOW = "import time\ntime.sleep(8)\n"  # a submission that takes long enough to be killed


@pytest.fixture(scope="module")
def example_course(standin_template, tmp_path_factory):
    """The quick course (tests/quick_course.py) with a class of submissions that end every
    way, not yet graded (copy before grading): the example class's real notebook takes
    minutes a run on a shared machine, this course seconds."""
    import quick_course as qc

    course = qc.copy_course(standin_template, tmp_path_factory.mktemp("dask-class") / "course")
    qc.submit(course, "ada", qc.submission(course))
    qc.submit(course, "bo", qc.submission(course, sigmoid=qc.WRONG_SIGMOID,
                                          relu=qc.WRONG_RELU))
    qc.submit(course, "cy", qc.submission(course, sigmoid=qc.WRONG_HIDDEN))
    qc.submit(course, "dee", qc.insert_after(qc.submission(course, relu=None), "sigmoid", SLOW))
    qc.submit(course, "eve", raw="{not json")
    qc.submit(course, "fay", qc.submission(course), extra={"data/notes.txt": "x"},
              links={"passwd": "/etc/passwd"})
    qc.submit(course, "gus", qc.insert_after(qc.submission(course), "relu", SLOW))
    return course


def _copy(course, target):
    shutil.copytree(course, target, symlinks=True)
    return Course(target)


def _grades(results):
    """Everything grading decides of each submission (times and memory left out)."""
    return {s["student"]: (s["status"], s["reason"], s["flags"], s["score"], s["max_score"],
                           s["tests"], s["judged"]) for s in results["submissions"]}


@pytest.fixture(scope="module")
def local_grades(example_course, tmp_path_factory):
    course = _copy(example_course, tmp_path_factory.mktemp("local") / "course")
    grades = _grades(autograde(course, "standin", jobs=2, progress=False, report=False))
    assert grades["ada"][3] == 5.0 and grades["eve"][0] == "invalid_notebook"
    assert any("passwd ignored" in flag for flag in grades["fay"][2])
    return grades


def test_cluster_grades_exactly_as_the_local_engine(dask_cluster, example_course,
                                                   local_grades, tmp_path):
    course = _copy(example_course, tmp_path / "course")
    results = autograde(course, "standin", progress=False, report=False,
                        scheduler=dask_cluster.address)
    assert results["jobs"] == 2
    assert _grades(results) == local_grades
    graded = {p.parent.parent.name for p in (course.root / "autograded").glob("*/*/*.ipynb")}
    assert graded == {s for s, g in local_grades.items() if g[0] != "invalid_notebook"}
    assert (course.root / "autograded" / "fay" / "standin" / "data" / "notes.txt").is_file()
    assert "ada" in (course.root / "grades.csv").read_text()
    log = (course.root / "reports" / "standin" / "logs" / "ada.log").read_text()
    assert "executed standin.ipynb" in log
    moved = results["cluster"]
    assert moved["tasks"] == len(local_grades) and moved["received_bytes"] > 0


def test_a_worker_killed_mid_batch_costs_a_retry_not_the_grades(example_course, local_grades,
                                                                tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "WINDOW", 1)  # 2 tasks ahead: the window refills as they end
    monkeypatch.setattr(cluster, "WINDOW_PER_WORKER", 1)
    running = LocalProcesses(tmp_path / "dask")
    try:
        course = _copy(example_course, tmp_path / "course")
        killer = KillWhenBusy(running)
        results = autograde(course, "standin", progress=False, report=False,
                            scheduler=running.address)
        assert killer.join(), "no worker was seen processing a task"
        assert killer.is_dead()
        assert _grades(results) == local_grades
    finally:
        running.close()


def test_a_worker_that_replaces_the_only_one_has_what_the_tasks_need(example_course,
                                                                     local_grades, tmp_path):
    # the run's shared data lived only on the lost worker when it was a scattered future
    # (the scheduler's memory manager trims broadcast copies too): a newcomer must get it
    running = LocalProcesses(tmp_path / "dask", workers=1)
    try:
        course = _copy(example_course, tmp_path / "course")
        killer = KillWhenBusy(running, replace=True)
        results = autograde(course, "standin", progress=False, report=False,
                            scheduler=running.address)
        assert killer.join() == "w0" and killer.is_dead()
        assert len(running.workers) == 2
        assert _grades(results) == local_grades
    finally:
        running.close()


def test_an_unreachable_scheduler_is_one_line_and_writes_nothing(example_course, tmp_path):
    course = _copy(example_course, tmp_path / "course")
    (course.root / "nbgrader_config.py").write_text(
        (course.root / "nbgrader_config.py").read_text()
        + "\nc.GradingCluster.connect_timeout = 2\n")
    before = sorted(p.relative_to(course.root) for p in course.root.rglob("*"))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "coursetools", "autograde", "--course",
                           str(course.root), "--quiet", "--scheduler", "tcp://127.0.0.1:9"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 60
    assert sorted(p.relative_to(course.root) for p in course.root.rglob("*")) == before


def test_workers_without_the_sandbox_are_refused_before_anything_is_written(example_course,
                                                                            tmp_path):
    # workers whose PATH has no bwrap: the probe on each worker says so
    nobwrap = tmp_path / "bin"
    nobwrap.mkdir()
    running = LocalProcesses(tmp_path / "dask", workers=1,
                      worker_env={"PATH": f"{nobwrap}:{Path(sys.executable).parent}"})
    try:
        course = _copy(example_course, tmp_path / "course")
        before = sorted(p.relative_to(course.root) for p in course.root.rglob("*"))
        with pytest.raises(CourseError, match=r"cannot sandbox kernels: `bwrap` is not "
                                              r"installed") as caught:
            autograde(course, "standin", progress=False, report=False,
                      scheduler=running.address)
        assert "\n" not in str(caught.value)
        assert sorted(p.relative_to(course.root) for p in course.root.rglob("*")) == before
    finally:
        running.close()


def test_where_the_scheduler_comes_from(monkeypatch):
    from traitlets.config import Config

    config = Config({"GradingCluster": {"scheduler_address": "tcp://from-config:8786"}})
    monkeypatch.delenv(cluster.ENVIRONMENT, raising=False)
    assert cluster.scheduler_address(Config()) is None
    assert cluster.scheduler_address(config) == "tcp://from-config:8786"
    monkeypatch.setenv(cluster.ENVIRONMENT, "tcp://from-env:8786")
    assert cluster.scheduler_address(config) == "tcp://from-env:8786"
    assert cluster.scheduler_address(config, "tcp://flag:1") == "tcp://flag:1"
    assert cluster.scheduler_address(config, "local") is None


def test_archives_carry_regular_files_only(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.bin").write_bytes(b"\0\1")
    os.symlink("/etc/passwd", src / "link")
    out = cluster.unpack(cluster.pack(src), tmp_path / "out")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["a.txt", "sub",
                                                                       "sub/b.bin"]
    assert (out / "sub" / "b.bin").read_bytes() == b"\0\1"


def _example_grades(results):
    return {s["student"]: (s["status"], s["reason"], s["flags"], s["score"], s["tests"])
            for s in results["submissions"]}


def test_the_example_class_on_a_cluster_gets_the_local_engines_grades(
        graded_example_class, graded_example_class_on_a_cluster):
    """The real notebook, TensorFlow included, on two dask workers of which one is killed
    while it grades, recorded in PostgreSQL: the grades of the local engine and SQLite."""
    _, local, _ = graded_example_class
    root, on_cluster, _, killed = graded_example_class_on_a_cluster
    # a worker died with a task, and yet every submission has the local grade: retried
    assert killed and on_cluster["cluster"]["tasks"] == len(local["submissions"])
    assert Course(root).db_url.startswith("postgresql")
    assert _example_grades(on_cluster) == _example_grades(local)
