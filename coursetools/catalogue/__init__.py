"""Grade the catalogue's student implementations through the notebook's real test cells.

For one catalogue entry (``tests/catalogue/`` by default) the harness takes the source
notebook ``source/nn_from_scratch/nn_from_scratch.ipynb`` and runs, in order:

- the locked, ungraded code cells (the imports and the given data),
- every solution cell: the reference solution, except that the ``def`` of each
  function the entry replaces is swapped for the entry's own ``def`` (at the
  same place in the cell, as a student would have typed it),
- every graded test cell exactly as in source, hidden tests included,

and skips the expensive cells (see ``skip_reason``): the Keras part, and any
cell listed in ``SKIP_CELL_IDS``. Unlocked ungraded cells (the lesson's demos)
are not run: a test cell must not depend on them.

Each entry runs in its own process, forked from a server process that has
imported numpy, matplotlib, scipy and nnscratch but never ran student code; the
cells are executed in one namespace dict, as a kernel would. A test cell earns
its points iff it raises nothing and writes nothing to stderr (nbgrader's
rule: a warning printed by a test cell scores it 0), or, when its last line is
an expression with a value, the partial credit nbgrader reads from that value.

    python -m coursetools catalogue --summary         # the catch/accept table
    python -m coursetools catalogue --entry NAME      # one entry, cell by cell

Modules: ``plan`` (which cells run, and the entry's code put into them), ``runner`` (the
server that forks one process per entry), ``verdicts`` (results and what they mean).
"""

import importlib.util
import os
import sys
from pathlib import Path

from coursetools.course import REPOSITORY

ASSIGNMENT = "nn_from_scratch"
# NN_AUTOGRADER_NOTEBOOK points the harness (and its tests) at a draft notebook elsewhere.
NOTEBOOK = Path(os.environ.get("NN_AUTOGRADER_NOTEBOOK")
                or REPOSITORY / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").resolve()
CATALOGUE_DIR = REPOSITORY / "tests" / "catalogue"


def load_catalogue(folder=CATALOGUE_DIR):
    """The catalogue package in ``folder`` (``tests/catalogue``), imported by path."""
    folder = Path(folder).resolve()
    name = f"_nn_autograder_catalogue_{abs(hash(str(folder)))}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
