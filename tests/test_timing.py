"""Where a submission's grading time goes (``make bench``'s breakdown).

The executor counts the kernel's start-up, the cells that only import and the other cells;
``bench.breakdown`` turns the results into rows that add up to the time per submission.
"""

import re

import nbformat
import pytest
import quick_course as qc
from nbformat.v4 import new_code_cell

from coursetools.autograde import autograde
from coursetools.commands.bench import breakdown
from coursetools.course import REPOSITORY
from coursetools.preprocessors.sandboxed_execute import imports_only

RELEASE = REPOSITORY / "release" / "nn_from_scratch" / "nn_from_scratch.ipynb"


def test_the_import_cells_of_the_course_notebook():
    nb = nbformat.read(RELEASE, as_version=4)
    found = [i for i, cell in enumerate(nb.cells) if imports_only(cell)]
    sources = [nb.cells[i].source for i in found]
    assert nb.cells[found[0]].get("id") == "imports"  # the locked setup cell
    assert any("import keras" in s and "import tensorflow" in s for s in sources), sources
    assert len(found) == 2, sources


@pytest.mark.parametrize("source, expected", [
    ("import numpy as np\nimport matplotlib.pyplot as plt", True),
    ("%matplotlib inline\nfrom scipy.special import expit", True),
    ("try:\n    import keras\nexcept ImportError:\n    keras = None", True),
    ("import numpy as np\nx = np.ones(3)", False),  # not the locked setup cell
    ("import time\ntime.sleep(5)", False),
    ("def f():\n    import os", False),
    ("", False),
    ("import (", False),
    ("x = " + "+".join(["1"] * 20000), False),  # too deep for the parser: never an error
    ("%%capture\nx = " + "+".join(["1"] * 20000), False),
])
def test_what_counts_as_an_import_cell(source, expected):
    assert imports_only(new_code_cell(source)) is expected


@pytest.mark.slow
def test_the_results_say_where_the_time_went_and_the_rows_add_up(standin_template, tmp_path):
    course = qc.copy_course(standin_template, tmp_path / "course")
    qc.submit(course, "ana", qc.insert_after(qc.submission(course), "sigmoid",
                                             "import time\ntime.sleep(1.5)"))
    results = autograde(course, qc.ASSIGNMENT, jobs=1, progress=False, report=False)
    timing = results["submissions"][0]["timing"]
    assert set(timing) == {"template", "startup", "imports", "cells"}
    assert timing["startup"] > 0 and timing["imports"] > 0 and timing["template"] >= 0
    assert timing["cells"] >= 1.5  # the sleeping cell is not an import cell
    per = results["seconds"]
    rows = breakdown(results, per)
    seconds = [float(re.search(r"([-\d.]+) s ", row).group(1)) for row in rows[1:]]
    assert len(seconds) == 7
    assert seconds[:4] == pytest.approx(
        [timing[k] for k in ("template", "startup", "imports", "cells")], abs=0.01)
    assert seconds[5] == pytest.approx(results["timings"]["record"], abs=0.01)
