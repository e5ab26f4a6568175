"""Instructor tooling: the glue around nbgrader, laid out as the flow of a notebook.

::

    source/<a>/*.ipynb  --release-->  release/<a>/ (students) + solutions/<a>/ (executed)
    release/<a>/  --nnscratch.workspace-->  work/<a>/ (the student's own copy, never written)
    LMS ZIP  --collect-->  submitted/<student>/<a>/
    submitted/  --autograde-->  autograded/ + gradebook + grades.csv + reports/<a>/
    autograded/  --feedback-->  feedback/<student>/<a>/*.html
    gradebook  --formgrade (by hand)-->  gradebook  --export-->  grades.csv + feedback/

Run any step with ``python -m coursetools <verb>`` (the Makefile's verbs call it).

=============================  ==============================================================
where                          what
=============================  ==============================================================
``course.py``                  ``Course``: nbgrader_config.py read once, nbgrader's
                               CourseDirectory, the assignments, the one way to run an
                               nbgrader converter, ``CourseError``
``cli.py``, ``commands/``      the command line: one module per verb (release, collect,
                               autograde, feedback, report, demo, bench, catalogue, secret,
                               formgrade, export)
``autograde/``                 the engine: ``prepare`` (phase 0), ``pool``/``worker``/
                               ``intake``/``tamper`` (phase 1, parallel), ``record``
                               (phase 2), ``jobs`` (what travels between them),
                               ``cluster`` (phase 1 on a Dask cluster instead of the pool),
                               ``warm_start`` (what the kernel templates import)
``sandbox/``                   the grading kernel's sandbox: ``command`` (bubblewrap command
                               line, uid rule, probe), ``watchdog``, ``kernel`` (the
                               KernelManager), ``limits`` (every resource limit),
                               ``zygote``/``zygote_process`` (kernels forked warm)
``preprocessors/``             nbgrader preprocessors, one a file (sandboxed execution,
                               metadata repair, hidden tests out of feedback)
``report/``                    the class report: ``plots``, ``links`` and the page
``cell_names.py``              a cell named by its test or function, never its position
``feedback_template/``         the feedback page: nbgrader's template extended, contents
                               named by test and points, formulas drawn without a network
``catalogue/``                 the harness that grades the catalogue of student
                               implementations (``tests/catalogue/``)
``example_class.py``           the bundled example class (demo, bench, tests)
``files.py``, ``measure.py``   copying untrusted folders; bench's probes
``backup.py``                  a copy of an edited generated file before a rebuild
=============================  ==============================================================

Where to add: a resource limit, a trait of ``sandbox/limits.py``'s ``GradingLimits`` (and
its line in that module's table); a report plot, a function in ``report/plots.py`` drawn
by ``report/__init__.py``; a second assignment, a folder ``source/<id>/`` (every verb takes
``--assignment``, or ``ASSIGNMENT=`` in make); an nbgrader preprocessor, a file in
``preprocessors/`` listed in the pipeline of ``autograde/worker.py`` (or, for feedback, in
``nbgrader_config.py``).
"""

import sys

# jsonschema (through nbformat, in every process that grades) compiles an RFC 3987 grammar
# with lark when `rfc3987_syntax` is installed: 0.7 s of CPU per process at import, for an
# "iri" format check that no notebook schema uses. Without it, jsonschema skips that check.
sys.modules.setdefault("rfc3987_syntax", None)
