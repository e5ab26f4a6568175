"""The README quotes only messages the course really prints.

Each quoted failure is produced here: the released notebook's imports, a wrong
implementation of one function, and that function's visible test (the part a student sees,
before the hidden block), run in one namespace; the README's quote must be part of the
message the check raised. Whitespace is compared loosely, since the README wraps lines.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RELEASED = ROOT / "release" / "nn_from_scratch" / "nn_from_scratch.ipynb"
HIDDEN = "### BEGIN HIDDEN TESTS"

# (test cell, the wrong implementation, what the README quotes of its message)
QUOTES = [
    ("test_sigmoid", "def sigmoid(x):\n    return 1 / (1 + np.exp(x))\n",
     "sigmoid(a) is wrong at index 0: got 0.999955, expected 4.5398e-05."),
    ("test_sigmoid", "def sigmoid(x):\n    return 1 / (1 + np.exp(x))\n",
     "check the sign inside the exponential"),
    ("test_add_bias", "def add_bias(X):\n    return np.hstack([np.ones((X.shape[0], 1)), X])\n",
     "add_bias(X) is wrong at row 0, column 1: got 1, expected 2."),
]


def loose(text):
    return re.sub(r"\s+", " ", text).strip()


def failure_of(test_id, implementation):
    nb = nbformat.read(RELEASED, as_version=4)
    namespace = {}
    imports = next(c for c in nb.cells if c.id == "imports")
    exec("\n".join(x for x in imports.source.splitlines() if not x.startswith("%")), namespace)
    exec(implementation, namespace)
    test = next(c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == test_id)
    with pytest.raises(AssertionError) as raised:
        exec(test.source.split(HIDDEN)[0], namespace)
    return str(raised.value)


@pytest.mark.parametrize("test_id, implementation, quote", QUOTES,
                         ids=[f"{q[0]}-{i}" for i, q in enumerate(QUOTES)])
def test_the_readme_quotes_the_real_message(test_id, implementation, quote):
    assert loose(quote) in loose(README.read_text()), f"the README no longer quotes {quote!r}"
    message = failure_of(test_id, implementation)
    assert loose(quote) in loose(message), f"the real message is:\n{message}"


def test_every_quoted_failure_is_checked():
    """A message-like quote in the README ("... is wrong at ...") is one of QUOTES."""
    quoted = re.findall(r"`([^`]*is wrong at[^`]*)`", README.read_text())
    checked = {loose(quote) for _, _, quote in QUOTES}
    assert quoted, "the README quotes no failure message"
    for quote in quoted:
        assert loose(quote) in checked, f"the README quotes {quote!r}, which no test runs"
