"""Hidden cases: what a judge module declares, and the request that carries them to a kernel.

A judge module (``judges/<assignment>.py`` beside ``source/``) has one function per hidden
test, marked with :func:`hidden_test`, that takes a numpy ``Generator`` (seeded from the
course's secret, the student and the test) and returns the test's :class:`Case` list::

    @hidden_test("test_sigmoid")
    def sigmoid_cases(rng):
        x = rng.uniform(-8, 8, size=(3, 4))
        return [Case("sigmoid", (x,), close(1 / (1 + np.exp(-x)), atol=1e-9),
                     about="x of shape (3, 4)", names=("x",))]

Fixed edge cases go in the same list; they are the same for everyone.
"""

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from nnscratch.wire import VERSION, encode


@dataclass(frozen=True)
class Case:
    """One call of a student's function, and what its result must be."""

    call: str  # the name the hidden test's kernel side gives the function
    args: tuple  # its inputs: arrays, numbers, lists or tuples of arrays
    expect: object  # result -> None when right, else a sentence (coursetools.judging.expect)
    about: str = ""  # the inputs in words, for the message: "x of shape (3, 4)"
    names: tuple = ()  # the arguments' names, for "changed x in place"
    unchanged: bool = True  # the arguments must come back as they went in

    def label(self, index, total):
        """``sigmoid(x) with x of shape (3, 4) (hidden case 2 of 5)``"""
        args = ", ".join(self.names) if self.names else "..."
        about = f" with {self.about}" if self.about else ""
        return f"{self.call}({args}){about} (hidden case {index + 1} of {total})"


def hidden_test(test_id):
    """Mark a function of a judge module as the cases of the test cell ``test_id``."""

    def mark(function):
        function.hidden_test = test_id
        return function

    return mark


def judges_dir(course):
    """The folder of ``course``'s judge modules (``judges/`` unless configured)."""
    return course.root / course.setting("InjectHiddenCases", "judges_directory", "judges")


def load_judge(path):
    """``{test id: cases function}`` of the judge module at ``path`` ({} when there is none).

    A module is loaded once per process while its file is unchanged: a worker grades many
    submissions, and a judge may cache what is the same for every student."""
    path = Path(path).resolve()
    if not path.is_file():
        return {}
    stat = path.stat()
    return dict(_load(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=16)
def _load(path, _mtime, _size):
    name = f"coursetools_judge_{Path(path).stem}_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple((fn.hidden_test, fn) for fn in vars(module).values()
                 if callable(fn) and isinstance(getattr(fn, "hidden_test", None), str))


def draw(cases_function, rng):
    """The cases of one test, checked to be what the grader can send."""
    cases = list(cases_function(rng))
    if not cases or not all(isinstance(c, Case) for c in cases):
        raise TypeError(f"{cases_function.__name__} must return a non-empty list of Case")
    return cases


def request(test_id, nonce, cases):
    """The JSON text the kernel's ``nnscratch.hidden.receive`` gets."""
    return json.dumps({"v": VERSION, "test": test_id, "nonce": nonce,
                       "cases": [{"id": i, "call": c.call, "args": encode(list(c.args))}
                                 for i, c in enumerate(cases)]}, separators=(",", ":"))
