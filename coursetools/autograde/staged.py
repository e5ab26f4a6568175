"""Phase 2 while phase 1 runs: each submission is recorded as soon as it is graded, into a
copy of the gradebook that is put in place once the last one is recorded.

Recording costs about 0.3 s of one core a submission (nbgrader's ``Autograde`` with its
recording steps only, ``coursetools.autograde.record``). Done after the last kernel, it
kept one core idle for 0.3 s per student: seconds for a class, most of an hour for ten
thousand. Here a thread of the main process records while the kernels run, against a
private SQLite copy of the gradebook taken after phase 0, with the graded notebooks in a
scratch ``autograded/``. At the end, in one step that Ctrl-C cannot split
(``record.deferred_interrupt``):

1. the real gradebook must be the one that was copied: SQLite raises the file change counter
   of its header at every write, so a changed counter means that something else wrote it
   meanwhile (formgrader, a second run); nothing of the stage is used then, and the caller
   records into the real gradebook the usual way;
2. each recorded student's ``autograded/<student>/<assignment>/`` is replaced by the new one;
3. the copy becomes the real gradebook's content through SQLite's backup API, one
   transaction: a reader (formgrader) sees the old gradebook or the new one, never a mix.

An interrupted run therefore leaves the gradebook as it was. Only an SQLite gradebook in
rollback-journal mode (nbgrader's) is staged; any other is recorded after phase 1.
"""

import contextlib
import queue
import sqlite3
import threading
import warnings
from pathlib import Path

from coursetools.autograde import record
from coursetools.autograde.prepare import copy_database
from coursetools.course import Course
from coursetools.files import copy_regular_tree, safe_remove

HEADER = b"SQLite format 3\0"


def fingerprint(path):
    """What changes whenever SQLite writes ``path``: its header's file change counter (and
    the file's size); None when that cannot be relied on (no such file, a write-ahead log,
    a journal left by a writer)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
        size = path.stat().st_size
    except OSError:
        return None
    wal = len(header) == 100 and 2 in (header[18], header[19])  # WAL keeps no counter
    if len(header) < 100 or not header.startswith(HEADER) or wal or any(
            Path(f"{path}{suffix}").exists() for suffix in ("-journal", "-wal")):
        return None
    return int.from_bytes(header[24:28], "big"), size


class StagedRecording:
    """Records results into a copy of the gradebook while the kernels run (see the module
    docstring). ``start`` returns None when the gradebook cannot be staged."""

    def __init__(self, course, assignment, folder, before, log_path):
        self.course, self.assignment, self.folder = course, assignment, Path(folder)
        self.before, self.log_path = before, log_path
        self.stage = Course(self.folder, config=course.derive(**{
            "CourseDirectory.db_url": f"sqlite:///{self.folder / 'gradebook.db'}",
            # what nbgrader reads stays the course's; what it writes lands in the stage
            "CourseDirectory.source_directory": str(course.path("source")),
            "CourseDirectory.submitted_directory": str(course.path("submitted")),
            "CourseDirectory.autograded_directory": "autograded",
        }))
        self.error = None  # why recording in the stage failed (then nothing is used)
        self._queue, self._stop, self._batches = queue.Queue(), threading.Event(), 0
        self._students = []  # whose results went to the stage, in order
        self._added = set()  # the students of the results given to add()
        self._thread = threading.Thread(target=self._record_as_they_come, daemon=True,
                                        name="staged-recording")
        self._thread.start()

    @classmethod
    def start(cls, course, assignment, scratch, log_path):
        real = course.sqlite_path()
        before = fingerprint(real) if real is not None else None
        if before is None:
            return None
        folder = Path(scratch) / "stage"
        folder.mkdir()
        copy_database(real, folder / "gradebook.db")
        if fingerprint(real) != before:  # written while it was copied
            return None
        return cls(course, assignment, folder, before, log_path)

    def add(self, result):
        """A submission graded by phase 1 (SubmissionResult): recorded in the stage soon."""
        self._added.add(result.student)
        self._queue.put(result)

    def _record_as_they_come(self):
        from sqlalchemy.exc import SAWarning

        # (the warnings filters are the process's: catch_warnings is not for a thread)
        warnings.filterwarnings("ignore", category=SAWarning)
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:  # whatever was graded while the last batch was recorded
                    batch.append(self._queue.get_nowait())
            last = None in batch
            batch = [result for result in batch if result is not None]
            if batch and self.error is None and not self._stop.is_set():
                self._batches += 1
                self._students += [result.student for result in batch]
                try:
                    record.record_batch(self.stage, self.assignment, batch,
                                        self.folder / f"batch{self._batches}", self.log_path,
                                        self._stop)
                except Exception as exc:  # noqa: BLE001 - the usual recording will say it
                    self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            if last:
                return

    def finish(self, results):
        """Record what is left of ``results`` (every result of the run: a submission whose
        worker died twice never came through ``add``), then put the stage in place; True
        when done. False when the caller must record the usual way (nothing of the stage
        was used)."""
        for result in results:
            if result.student not in self._added:
                self.add(result)
        self._queue.put(None)
        self._thread.join()
        real = self.course.sqlite_path()
        if self.error is not None or self._stop.is_set() or fingerprint(real) != self.before:
            return False
        with record.deferred_interrupt() as interrupted:
            for student in self._students:
                graded = self.stage.path("autograded", student, self.assignment)
                if not graded.is_dir():  # nbgrader stopped before it: as it was
                    continue
                safe_remove(self.course.path("autograded", student), self.assignment)
                copy_regular_tree(graded, self.course.path("autograded", student,
                                                           self.assignment))
            source = sqlite3.connect(f"file:{self.folder / 'gradebook.db'}?mode=ro", uri=True)
            target = sqlite3.connect(real)
            try:
                source.backup(target)
            finally:
                source.close()
                target.close()
        if interrupted.is_set():
            raise KeyboardInterrupt
        return True

    def abandon(self):
        """Stop recording if it still runs (the run was interrupted or failed before the
        end): nothing more is put in place."""
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=60)
