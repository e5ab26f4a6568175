"""The checks that the notebook's visible test cells call.

For students: a failure says what was expected, what came back and a hint. Grades come
from the hidden tests, which the grader judges outside the kernel (``nnscratch.hidden``);
these checks only decide what a student sees, and a failing one stops its test cell. They
still resist the naive tricks (every function used below is bound when this module is
first imported, by the notebook's locked first cell, and values are compared with plain
Python floats read through the real ``ndarray`` type), so that a student who replaces
``numpy.allclose`` or returns an ndarray subclass with a doctored ``__eq__`` sees the truth.
"""

import math
import types

import numpy

# Bound once, at import: later replacements in numpy or builtins do not reach these.
_asarray = numpy.asarray
_array = numpy.array
_ndarray_tolist = numpy.ndarray.tolist
_ndarray_ravel = numpy.ndarray.ravel
_float = float
_Exception = Exception
_len = len
_isinstance = isinstance
_range = range
_tuple = tuple
_list = list
_isfinite = math.isfinite
_Error = AssertionError

class CheckFailed(_Error):
    """A test cell's check failed; the message says what and why."""


def _show_without_this_module(shell, etype, value, tb, tb_offset=None):
    """IPython's traceback of a failed check without this module's frames: the test cell's
    line, then the message (IPython itself hides every frame but the last one)."""
    kept = []
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") != __name__:
            kept.append(tb)
        tb = tb.tb_next
    chain = None
    for entry in reversed(kept):
        chain = types.TracebackType(chain, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    stb = shell.InteractiveTB.structured_traceback(etype, value, chain, tb_offset=tb_offset)
    shell._showtraceback(etype, value, stb)  # the error output nbgrader scores
    return stb


def _compact_tracebacks():
    """In IPython, show failed checks with _show_without_this_module (unless the notebook
    has a handler of its own)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and not shell.custom_exceptions:
        shell.set_custom_exc((CheckFailed,), _show_without_this_module)


def _fail(message, hint):
    __tracebackhide__ = True
    if hint:
        message = f"{message}\nHint: {hint}"
    _compact_tracebacks()
    raise CheckFailed(message)


def as_float_array(value, name="the result"):
    """A plain float ndarray holding the data of ``value`` (array, subclass, list or number).

    ``numpy.asarray`` returns a base-class array for a subclass, so the
    subclass's own methods are never called after this.
    """
    __tracebackhide__ = True
    try:
        array = _asarray(value, dtype=_float)
    except _Exception as error:  # any failure means "not numbers"
        raise CheckFailed(
            f"{name} should be a numpy array of numbers; got {type(value).__name__}: {error}"
        ) from None
    return _array(array, dtype=_float, copy=True)


def _flat(array):
    return _ndarray_tolist(_ndarray_ravel(array))


def _number(value):
    return f"{value:.6g}"


def _format(values, limit=8):
    shown = ", ".join(f"{v:.5g}" for v in values[:limit])
    return f"[{shown}{', ...' if _len(values) > limit else ''}]"


def where(index, shape):
    """`` at row 1, column 2`` (a matrix) or `` at index 3`` (a vector) for the flat
    ``index`` of an array of ``shape``; the grader's messages use it too."""
    position = []
    for size in reversed(shape):
        position.insert(0, index % size)
        index //= size
    if _len(shape) == 0:
        return ""
    if _len(shape) == 1:
        return f" at index {position[0]}"
    if _len(shape) == 2:
        return f" at row {position[0]}, column {position[1]}"
    return f" at {_tuple(position)}"


def _matrix(values, shape, indent="    "):
    """A small matrix as rows, numbers aligned, or None when it is not small."""
    if _len(shape) != 2 or shape[0] > 6 or shape[1] > 6:
        return None
    cells = [f"{v:.5g}" for v in values]
    width = max([_len(c) for c in cells] + [1])
    rows = [", ".join(c.rjust(width) for c in cells[r * shape[1]:(r + 1) * shape[1]])
            for r in _range(shape[0])]
    return "\n".join(f"{indent}{'[' if r == 0 else ' '}[{row}]{']' if r == shape[0] - 1 else ','}"
                     for r, row in enumerate(rows))


def _shown(label, values, shape):
    matrix = _matrix(values, shape)
    if matrix is not None:
        return f"\n  {label}:\n{matrix}"
    return f"\n  {label + ':':<9} {_format(values)}"


def check_shape(value, shape, name="the result", hint=""):
    """Fail unless ``value`` is array-like of exactly ``shape``."""
    __tracebackhide__ = True
    array = as_float_array(value, name)
    if _tuple(array.shape) != _tuple(shape):
        _fail(f"{name} should have shape {_tuple(shape)}; got shape {_tuple(array.shape)}.", hint)
    return array


def check_close(value, expected, name="the result", atol=1e-6, hint="", show_expected=True,
                rtol=0.0):
    """Fail unless ``value`` has the shape of ``expected`` and every entry is close to it.

    Close means within ``atol + rtol * |expected|`` (``rtol`` for values that grow large,
    such as 1 / y_pred, where a harmless epsilon shifts the answer in absolute terms). The
    message names the first wrong entry (by row and column for a matrix) and shows both
    values, and both arrays.

    ``show_expected=False`` keeps the expected numbers out of the message.
    """
    __tracebackhide__ = True
    expected_array = as_float_array(expected, "the expected value")
    array = check_shape(value, expected_array.shape, name, hint)
    shape = _tuple(expected_array.shape)
    got, want = _flat(array), _flat(expected_array)
    for i in _range(_len(want)):
        g, w = got[i], want[i]
        tolerance = atol + rtol * (w if w >= 0 else -w)
        if -tolerance <= g - w <= tolerance:  # NaN compares false: a NaN is never close
            continue
        message = f"{name} is wrong{where(i, shape)}: got {_number(g)}"
        if show_expected:
            message += f", expected {_number(w)}."
            message += _shown("got", got, shape) + _shown("expected", want, shape)
        else:
            message += " (the expected value is not shown)."
        _fail(message, hint)
    return array


def check_pair(value, name="the result", hint=""):
    """Unpack a function result that must hold exactly two items (a tuple or a list)."""
    __tracebackhide__ = True
    if not _isinstance(value, (_tuple, _list)) or _len(value) != 2:
        kind = type(value).__name__
        size = f" of length {_len(value)}" if _isinstance(value, (_tuple, _list)) else ""
        _fail(f"{name} should return two things (a tuple or a list); got a {kind}{size}.", hint)
    return value[0], value[1]


def check_unchanged(before, after, name="the input", hint=""):
    """Fail when ``after`` differs from the copy ``before`` taken earlier (in place edits)."""
    __tracebackhide__ = True
    b, a = as_float_array(before, name), as_float_array(after, name)
    if _tuple(a.shape) != _tuple(b.shape) or _flat(a) != _flat(b):
        _fail(f"{name} was modified in place; the function must leave its inputs unchanged.", hint)


def snapshot(value):
    """A private float copy of ``value`` to compare with later (see ``check_unchanged``)."""
    return as_float_array(value)


def check_accuracy(probabilities, labels, minimum, name="the accuracy", hint=""):
    """Fail unless at least a fraction ``minimum`` of the predictions is right; return it.

    ``probabilities`` are predicted probabilities of class 1 (n, 1), ``labels``
    the 0/1 labels of the same shape; a prediction is class 1 when its
    probability is above 0.5. A NaN or infinite probability counts as wrong.
    """
    __tracebackhide__ = True
    probs = check_shape(probabilities, as_float_array(labels, "the labels").shape,
                        "the predicted probabilities", hint)
    got, want = _flat(probs), _flat(as_float_array(labels, "the labels"))
    correct = 0
    for i in _range(_len(want)):
        p = got[i]
        if _isfinite(p) and (p > 0.5) == (want[i] > 0.5):
            correct += 1
    accuracy = correct / _len(want) if _len(want) else 0.0
    if not accuracy >= minimum:
        _fail(f"{name} is {accuracy:.1%} ({correct} of {_len(want)} right); "
              f"it should be at least {minimum:.0%}.", hint)
    return accuracy
