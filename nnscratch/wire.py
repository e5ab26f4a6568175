"""The data format between the grader and a notebook's hidden tests: numbers and shapes only.

The grader sends a hidden test its inputs as a *request*; the kernel answers each case with
a *result* published as ``display_data`` of MIME type :data:`RESULT_MIME`. Both are JSON
made of plain numbers, strings, lists and two tagged forms:

- ``{"$nd": [shape, base64]}``: a float64 array (little-endian bytes);
- ``{"$tuple": [...]}``: a tuple (lists stay lists, so a function that returns a list or a
  tuple can be told apart when it matters); ``{"$dict": {...}}``: a dict of strings;
- integers stay integers (an epoch count), every other number is a float.

:func:`decode` is strict and size-bounded: anything else (an object of another shape, a
string where a number is due, too deep, too large, bytes that do not fit the shape) raises
:class:`WireError`. It never unpickles and never calls code. The grader decodes what a
kernel sent with it; the kernel decodes the grader's request with it.
"""

import base64
import binascii
import math

import numpy as np

RESULT_MIME = "application/vnd.nnscratch.hidden-result.v1+json"
VERSION = 1
MAX_ELEMENTS = 1_000_000  # numbers in one decoded value, all arrays together
MAX_DEPTH = 6
MAX_STRING = 2_000


class WireError(ValueError):
    """Data that is not in the wire format (the message says why)."""


def encode(value):
    """``value`` as wire data: arrays and array-likes become float64 arrays; tuples, lists,
    dicts, numbers, strings and None are kept (booleans become floats). Anything else is
    converted with ``numpy.asarray(value, dtype=float)`` or, if that fails, described."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):
        return value if abs(value) < 2**53 else float(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"$dict": {str(k): encode(v) for k, v in value.items()}}
    try:
        array = np.ascontiguousarray(np.asarray(value, dtype=float), dtype="<f8")
    except Exception as exc:  # noqa: BLE001 - any failure: the value is not numbers
        return {"$unreadable": f"{type(value).__name__}: {exc}"[:MAX_STRING]}
    data = base64.b64encode(array.tobytes()).decode("ascii")
    return {"$nd": [list(array.shape), data]}


class _Budget:
    def __init__(self, elements):
        self.left = elements

    def take(self, n):
        self.left -= n
        if self.left < 0:
            raise WireError(f"more than {MAX_ELEMENTS} numbers")


def decode(data, max_elements=MAX_ELEMENTS):
    """The Python value of wire ``data`` (arrays as float64 ndarrays); WireError otherwise."""
    return _decode(data, 0, _Budget(max_elements))


def _decode(data, depth, budget):
    if depth > MAX_DEPTH:
        raise WireError(f"nested deeper than {MAX_DEPTH}")
    if data is None:
        return None
    if isinstance(data, bool):
        raise WireError("a boolean where a number is due")
    if isinstance(data, int):
        budget.take(1)
        return int(data)
    if isinstance(data, float):
        budget.take(1)
        return float(data)
    if isinstance(data, str):
        if len(data) > MAX_STRING:
            raise WireError(f"a string longer than {MAX_STRING} characters")
        return data
    if isinstance(data, list):
        budget.take(len(data))
        return [_decode(item, depth + 1, budget) for item in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise WireError(f"unexpected {type(data).__name__}")
    (tag, body), = data.items()
    if tag == "$tuple" and isinstance(body, list):
        budget.take(len(body))
        return tuple(_decode(item, depth + 1, budget) for item in body)
    if tag == "$dict" and isinstance(body, dict):
        budget.take(len(body))
        return {_key(k): _decode(v, depth + 1, budget) for k, v in body.items()}
    if tag == "$nd":
        return _array(body, budget)
    if tag == "$unreadable" and isinstance(body, str):
        return Unreadable(body[:MAX_STRING])
    raise WireError(f"unexpected tag {str(tag)[:40]!r}")


def _key(key):
    if not isinstance(key, str) or len(key) > 100:
        raise WireError("a dict key that is not a short string")
    return key


def _array(body, budget):
    if not (isinstance(body, list) and len(body) == 2 and isinstance(body[0], list)
            and isinstance(body[1], str)):
        raise WireError("an array that is not [shape, data]")
    shape, text = body
    if len(shape) > MAX_DEPTH or not all(isinstance(n, int) and not isinstance(n, bool)
                                         and 0 <= n <= MAX_ELEMENTS for n in shape):
        raise WireError("an array shape that is not a few non-negative integers")
    size = math.prod(shape)
    budget.take(size)
    if len(text) != 4 * math.ceil(size * 8 / 3):
        raise WireError(f"array data does not fit its shape {tuple(shape)}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WireError(f"array data that is not base64: {exc}") from None
    if len(raw) != size * 8:
        raise WireError(f"array data does not fit its shape {tuple(shape)}")
    return np.frombuffer(raw, dtype="<f8").astype(float).reshape(shape)


class Unreadable(str):
    """What came back was not numbers: the kernel's description of it."""
