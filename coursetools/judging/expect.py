"""What a hidden case's result must be: checks that return None (right) or a sentence (wrong).

A judge module builds them with the grader's own reference values, e.g.
``close(reference_sigmoid(x), atol=1e-9)``; the sentence names the first wrong entry by its
position, never the expected value (students read it in their feedback).
"""

import numpy as np

from nnscratch.testing import where
from nnscratch.wire import Unreadable


def first_wrong(got, want, atol, rtol=0.0):
    """The flat index of the first entry (in reading order) of ``got`` that is not within
    ``atol + rtol * |want|`` of ``want``, or None. NaN is never close."""
    bad = ~(np.abs(got - want) <= atol + rtol * np.abs(want))
    return int(np.argmax(bad)) if bad.any() else None


def as_numbers(result):
    """(float array, None), or (None, why the result is not an array of numbers)."""
    if isinstance(result, Unreadable):
        return None, f"returned something that is not numbers ({result})"
    if result is None:
        return None, "returned None (is a return statement missing?)"
    if isinstance(result, str):
        return None, "returned a string, not numbers"
    try:
        return np.asarray(result, dtype=float), None
    except (TypeError, ValueError):
        return None, "returned something that is not an array of numbers"


def close(expected, atol=1e-6, rtol=0.0):
    """The result has the shape of ``expected`` and each entry is within
    ``atol + rtol * |expected|`` of it."""
    want = np.asarray(expected, dtype=float)

    def check(result):
        got, problem = as_numbers(result)
        if problem:
            return problem
        if got.shape != want.shape:
            return f"returned an array of shape {got.shape}; its shape should be {want.shape}"
        index = first_wrong(got, want, atol, rtol)
        if index is None:
            return None
        return (f"is wrong{where(index, want.shape)}: it returned {got.flat[index]:.6g} "
                "(the expected value is not shown)")

    return check


def pair(first, second, names=("the first result", "the second result")):
    """The result holds exactly two things (a tuple or a list), each passing its check."""

    def check(result):
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            what = f"{len(result)} things" if isinstance(result, (tuple, list)) else \
                "one thing"
            return f"should return two things (a tuple or a list); it returned {what}"
        for name, test, value in zip(names, (first, second), result, strict=True):
            problem = test(value)
            if problem:
                return f"{name} {problem}"
        return None

    return check


def accuracy_at_least(X, y, minimum, predict, shapes):
    """The result is a list of weight matrices of ``shapes`` whose predictions, by the
    grader's ``predict(X, weights)`` on its own ``X``, get at least ``minimum`` of ``y``."""

    def check(result):
        if not isinstance(result, (tuple, list)) or len(result) != len(shapes):
            return f"should give back {len(shapes)} weight matrices"
        weights = []
        for i, (value, shape) in enumerate(zip(result, shapes, strict=True)):
            got, problem = as_numbers(value)
            if problem or got.shape != tuple(shape):
                return (f"gave weights[{i}] of shape "
                        f"{getattr(got, 'shape', None)}; it should be {tuple(shape)}")
            weights.append(got)
        with np.errstate(all="ignore"):
            predicted = np.asarray(predict(X, weights), dtype=float).reshape(y.shape)
        right = np.isfinite(predicted) & ((predicted > 0.5) == (y > 0.5))
        accuracy = float(right.mean())
        if accuracy >= minimum:
            return None
        return (f"trained weights that classify {accuracy:.1%} of the points right; "
                f"at least {minimum:.0%} is due")

    return check


def same(before, after):
    """Whether ``after`` holds exactly the values of ``before`` (arrays, lists, tuples)."""
    if isinstance(before, (list, tuple)):
        return (type(after) is type(before) and len(after) == len(before)
                and all(same(b, a) for b, a in zip(before, after, strict=True)))
    if isinstance(before, np.ndarray):
        return isinstance(after, np.ndarray) and after.shape == before.shape and bool(
            np.array_equal(after, before))
    return after == before
