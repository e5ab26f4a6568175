"""Phase 2 while phase 1 runs: each submission is recorded as soon as it is graded, into a
copy of the gradebook that is put in place once the last one is recorded.

Recording costs about 0.3 s of one core a submission (nbgrader's ``Autograde`` with its
recording steps only, ``coursetools.autograde.record``). Done after the last kernel, it
kept one core idle for 0.3 s per student: seconds for a class, most of an hour for ten
thousand. Here a thread of the main process records while the kernels run, against a
private SQLite copy of the gradebook taken after phase 0, with the graded notebooks in a
scratch ``autograded/``. At the end, in one step that Ctrl-C waits for:

1. each recorded student's new ``autograded/<student>/<assignment>/`` is copied next to
   the real one, under a hidden name (nothing visible has changed yet);
2. in one write transaction on the real gradebook, which locks out every other writer:
   if its header's file change counter (SQLite raises it at every write) is still the one
   copied, something else wrote it meanwhile (formgrader, a second run) and nothing of the
   stage is used: the caller records into the real gradebook the usual way. Otherwise each
   table's rows are replaced by the stage's and the transaction commits: a reader
   (formgrader) sees the old gradebook or the new one, never a mix;
3. the new folders take the place of the old ones.

An interrupted run therefore leaves the gradebook as it was. Only an SQLite gradebook in
rollback-journal mode (nbgrader's) is staged; any other is recorded after phase 1.
"""

import contextlib
import copy
import os
import queue
import shutil
import sqlite3
import threading
import warnings
from pathlib import Path

from coursetools.autograde import record
from coursetools.autograde.prepare import copy_database
from coursetools.course import Course
from coursetools.files import copy_regular_tree, safe_remove

HEADER = b"SQLite format 3\0"
BUSY_SECONDS = 30  # how long the last step waits for another writer of the gradebook


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
        # the stage records copies of the results: their statuses change only when the
        # stage is put in place (the usual recording after a dropped stage starts afresh)
        self._copies = {}  # student: the copy of its result that the stage recorded
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
        folder.mkdir(mode=0o700)
        copy_database(real, folder / "gradebook.db")
        if fingerprint(real) != before:  # written while it was copied
            return None
        from sqlalchemy.exc import SAWarning

        # nbgrader's session chatter, as record() hides it (set here: warnings filters are
        # the process's, and changing them from another thread races with catch_warnings)
        warnings.filterwarnings("ignore", category=SAWarning)
        return cls(course, assignment, folder, before, log_path)

    def add(self, result):
        """A submission graded by phase 1 (SubmissionResult): recorded in the stage soon."""
        staged = copy.deepcopy(result)
        self._copies[result.student] = staged
        self._queue.put(staged)

    def _record_as_they_come(self):
        try:
            while True:
                batch = [self._queue.get()]
                with contextlib.suppress(queue.Empty):
                    while True:  # whatever was graded while the last batch was recorded
                        batch.append(self._queue.get_nowait())
                last = None in batch
                batch = [result for result in batch if result is not None]
                if batch and self.error is None and not self._stop.is_set():
                    self._batches += 1
                    scratch = self.folder / f"batch{self._batches}"
                    record.record_batch(self.stage, self.assignment, batch, scratch,
                                        self.log_path, self._stop)
                    shutil.rmtree(scratch, ignore_errors=True)  # the stage keeps its copy
                if last:
                    return
        except BaseException as exc:  # noqa: BLE001 - the usual recording will be used
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            with contextlib.suppress(OSError), open(self.log_path, "a") as log:
                log.write(f"[ERROR] recording in a copy of the gradebook failed, recording "
                          f"after the kernels instead: {self.error}\n")

    def finish(self, results):
        """Record what is left of ``results`` (every result of the run: a submission whose
        worker died twice never came through ``add``), then put the stage in place and
        update ``results``; True when done. False when the caller must record the usual way
        (nothing of the stage was used)."""
        for result in results:
            if result.student not in self._copies:
                self.add(result)
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            return False
        with record.deferred_interrupt("Ctrl-C: stopping once the new grades are in place "
                                       "(all of them or none)...") as interrupted:
            done = self._put_in_place()
        if done:
            for result in results:
                vars(result).update(vars(self._copies[result.student]))
        if interrupted.is_set():
            raise KeyboardInterrupt
        return done

    def _put_in_place(self):
        moves = []  # (hidden copy of a new folder, where it goes)
        try:
            for student in self._copies:
                graded = self.stage.path("autograded", student, self.assignment)
                if not graded.is_dir():  # nbgrader stopped before it: as it was
                    continue
                target = self.course.path("autograded", student, self.assignment)
                hidden = target.with_name(f".{target.name}.staged")
                safe_remove(hidden.parent, hidden.name)
                copy_regular_tree(graded, hidden, keep_mode=True)
                moves.append((hidden, target))
            if not self._replace_rows():
                return False
            for hidden, target in moves:
                safe_remove(target.parent, target.name)
                os.rename(hidden, target)
            moves = []
            return True
        finally:
            for hidden, _ in moves:  # not used: the real folders stay as they were
                safe_remove(hidden.parent, hidden.name)

    def _replace_rows(self):
        """Every table of the real gradebook gets the stage's rows, in one transaction,
        unless something else wrote it since it was copied (then False, nothing written)."""
        real = self.course.sqlite_path()
        db = sqlite3.connect(real, timeout=BUSY_SECONDS, isolation_level=None)
        try:
            db.execute("ATTACH DATABASE ? AS stage", (str(self.folder / "gradebook.db"),))
            try:
                db.execute("BEGIN IMMEDIATE")  # no other writer until COMMIT
            except sqlite3.OperationalError:  # another writer held it all along
                return False
            if fingerprint(real) != self.before:
                db.execute("ROLLBACK")
                return False
            tables = [name for (name,) in db.execute(
                "SELECT name FROM stage.sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%'")]
            for table in tables:
                db.execute(f'DELETE FROM main."{table}"')
                db.execute(f'INSERT INTO main."{table}" SELECT * FROM stage."{table}"')
            db.execute("COMMIT")
            return True
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def abandon(self):
        """Stop recording if it still runs (the run was interrupted or failed before the
        end): nothing more is put in place."""
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=60)
