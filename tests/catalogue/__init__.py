"""The autograder's catalogue: student implementations it must grade right.

Each entry is what a student could type into the solution cell(s) of the
graded notebook: full ``def`` statements, using ``np`` (and the other graded
functions) from the notebook's namespace, as a student would. An entry
replaces the reference solution of the functions it names; every other
function keeps the reference solution, so a mistake cannot hide behind (or be
blamed on) another function.

Verdicts:

- ``correct``: a right implementation, written differently from the
  reference. It must get full marks on every test cell of the notebook.
- ``wrong``: a mistake students really make (or a cheat that fits the visible
  tests). It must lose points on the test cells of the functions it replaces.

``tests/autograder_harness.py`` grades each entry through the notebook's real
test cells; ``tests/test_autograder_catalogue.py`` checks the verdicts.
"""

import textwrap
from dataclasses import dataclass

CORRECT = "correct"
WRONG = "wrong"

# The graded functions of the notebook, in notebook order (the API fixed by the seed).
FUNCTIONS = (
    "add_bias",
    "sigmoid",
    "log_loss",
    "sigmoid_der",
    "log_loss_der",
    "feed_forward",
    "backprop",
)


@dataclass(frozen=True)
class Entry:
    """One student implementation and the verdict the autograder must reach."""

    name: str
    replaces: tuple  # names of the graded functions the code defines
    verdict: str  # CORRECT or WRONG
    why: str  # for a wrong entry: the mistake; for a correct one: what differs
    code: str  # the student's solution code (full def statements)


def entry(name, replaces, verdict, why, code):
    """An ``Entry``; ``replaces`` may be one name or several, ``code`` is dedented."""
    replaces = (replaces,) if isinstance(replaces, str) else tuple(replaces)
    unknown = [f for f in replaces if f not in FUNCTIONS]
    if unknown or verdict not in (CORRECT, WRONG):
        raise ValueError(f"catalogue entry {name}: bad functions {unknown} or verdict {verdict}")
    return Entry(name, replaces, verdict, why, textwrap.dedent(code).strip() + "\n")


def blank(function):
    """What the released notebook holds before the student writes anything."""
    code = f"def {function}(*args, **kwargs):\n    raise NotImplementedError()\n"
    return Entry(f"blank_{function}", (function,), WRONG, "the unfilled stub", code)


from . import activations, backprop, bias, cheats, forward, losses  # noqa: E402 (needs entry())

ENTRIES = (
    *bias.ENTRIES,
    *activations.ENTRIES,
    *losses.ENTRIES,
    *forward.ENTRIES,
    *backprop.ENTRIES,
    *cheats.ENTRIES,
)
BY_NAME = {e.name: e for e in ENTRIES}
if len(BY_NAME) != len(ENTRIES):
    raise ValueError("catalogue entry names must be unique")
