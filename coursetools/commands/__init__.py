"""The verbs of ``python -m coursetools`` (and of the Makefile), one module each.

=============  ======================================================================
verb           module: what it does
=============  ======================================================================
release        ``release``: regenerate release/ and solutions/ from source/, or check
collect        ``collect``: an LMS ZIP download into submitted/ (nbgrader zip_collect)
autograde      ``autograde``: grade submitted/ (``coursetools.autograde``), export, report
feedback       ``feedback``: the students' feedback HTML, hidden tests hidden
report         ``report``: rebuild the class report from results.json
demo           ``demo``: the whole loop on the bundled example class (``example_class``)
bench          ``bench``: autograde speed against stock nbgrader
catalogue      ``catalogue``: grade the catalogue of student implementations
secret         ``secret``: show or rotate the course's grading secret
formgrade      ``formgrade``: JupyterLab with nbgrader's formgrader, to grade by hand
export         ``export``: grades.csv (nbgrader export) and feedback after grading by hand
=============  ======================================================================

Each module has a docstring (its ``--help``), ``add_arguments(parser)`` and
``run(course, args)``; ``coursetools.cli`` parses the command line and turns errors into
exit statuses. A new verb is a new module here and a name in ``cli.VERBS``.
"""
