"""The kernel's side of a hidden test: call the student's functions, send back what they return.

A hidden-test block of the source notebook ends with::

    from nnscratch.hidden import run_hidden_cases
    run_hidden_cases("test_sigmoid", {"sigmoid": sigmoid})

When the course's grader grades a notebook, it first puts its request (the inputs of every
hidden case, drawn from a secret) into that block with :func:`receive`. Then
:func:`run_hidden_cases` calls the named functions on those inputs and publishes, per case,
what came back and what the inputs look like afterwards (``display_data`` of MIME type
``nnscratch.wire.RESULT_MIME``). Nothing here knows an expected value or decides a verdict:
the grader compares the results with its own reference, outside this kernel. Without a
request (the notebook run anywhere but the grader), a hidden test fails with a clear error.
"""

import json
import warnings

import numpy as np

from nnscratch.wire import RESULT_MIME, VERSION, decode, encode

_requests = []


class NotGraded(RuntimeError):
    """A hidden test ran without the grader's request."""


def receive(request):
    """Keep the grader's request (a JSON string) for the next ``run_hidden_cases``."""
    _requests.append(request)


def _publish(payload):
    from IPython.display import display

    display({RESULT_MIME: payload, "text/plain": f"hidden case {payload.get('case')}: "
                                                 "sent to the grader"}, raw=True)


def run_hidden_cases(test_id, functions):
    """Run the hidden cases of ``test_id`` with ``functions`` (name -> callable)."""
    if not _requests:
        raise NotGraded(f"the hidden cases of {test_id} run only when the course's grader "
                        "grades this notebook (make autograde)")
    request = json.loads(_requests.pop())
    if request.get("test") != test_id:
        raise NotGraded(f"the grader's request is for {request.get('test')!r}, not {test_id!r}")
    base = {"v": VERSION, "test": test_id, "nonce": request["nonce"]}
    for case in request["cases"]:
        args = decode(case["args"])
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                # a warning on stderr would cost the test its points (nbgrader's rule)
                warnings.simplefilter("ignore")
                result = functions[case["call"]](*args)
            payload = dict(base, case=case["id"], result=encode(result), args=encode(args))
        except Exception as exc:  # noqa: BLE001 - the grader says what it means
            payload = dict(base, case=case["id"],
                           raised=f"{type(exc).__name__}: {exc}"[:500])
        _publish(payload)
    count = len(request["cases"])
    print(f"hidden tests: {count} case{'s' if count != 1 else ''} sent to the grader")
