"""The verdict of one hidden test, reached by the grader from what the kernel sent back.

Fail closed: a test passes only when every one of its cases came back exactly once, in the
wire format, for this test and this run's request, and its result passes the case's check
with the inputs unchanged. Anything else (missing, duplicated, malformed, oversized, for
another test, another run's, a raised exception, a wrong value or shape, a NaN) fails it,
with a sentence that says why.
"""

from dataclasses import dataclass

from nnscratch.wire import VERSION, WireError, decode

MAX_PAYLOAD_CHARS = 4 * 1024**2  # one case's result, as the notebook holds it
ENVELOPE = {"v", "test", "nonce", "case", "result", "args", "raised"}


@dataclass(frozen=True)
class Verdict:
    test: str
    passed: bool
    cases: int
    failed: int
    message: str  # for the student: all passed, or the first failure and how many failed
    suspicious: bool = False  # what came back was forged or tampered with: worth a look

    def public(self):
        return {"test": self.test, "passed": self.passed, "cases": self.cases,
                "failed": self.failed, "message": self.message}


def _size(value, budget=MAX_PAYLOAD_CHARS):
    """The size of a JSON value in characters, counted only up to ``budget`` (+1)."""
    todo, total = [value], 0
    while todo and total <= budget:
        item = todo.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            total += len(item)
            todo.extend(item)
        else:
            total += 8
    return total


def _envelope_problem(payload, test_id, nonce, total):
    if not isinstance(payload, dict) or not set(payload) <= ENVELOPE:
        return "a result that is not in the grader's format"
    if _size(payload) > MAX_PAYLOAD_CHARS:
        return f"a result larger than {MAX_PAYLOAD_CHARS // 1024**2} MiB"
    if payload.get("v") != VERSION:
        return "a result that is not in the grader's format (version)"
    if payload.get("test") != test_id:
        return f"a result for another test ({str(payload.get('test'))[:40]!r})"
    if payload.get("nonce") != nonce:
        return "a result that does not answer this grading run's request (replayed?)"
    case = payload.get("case")
    if not isinstance(case, int) or isinstance(case, bool) or not 0 <= case < total:
        return "a result for a hidden case the grader did not send"
    if ("raised" in payload) == ("result" in payload and "args" in payload):
        return "a result that is not in the grader's format (no result)"
    return None


def _case_problem(case, payload):
    if "raised" in payload:
        return f"raised {str(payload['raised'])[:300]}"
    try:
        result, after = decode(payload["result"]), decode(payload["args"])
    except WireError as exc:
        return f"sent back something that is not in the grader's format ({exc})"
    problem = case.expect(result)
    if problem:
        return problem
    if case.unchanged:
        from coursetools.judging.expect import same

        if not isinstance(after, list) or len(after) != len(case.args):
            return "sent back its inputs in a form the grader cannot read"
        for i, (before, now) in enumerate(zip(case.args, after, strict=True)):
            if not same(before, now):
                name = case.names[i] if i < len(case.names) else f"argument {i + 1}"
                return f"changed its input {name} in place (it must build new arrays)"
    return None


def judge(test_id, nonce, cases, payloads):
    """The Verdict of ``test_id`` from the ``payloads`` its test cell sent back."""
    total = len(cases)

    def fail(message):  # what came back is not what the kernel side sends: forged
        return Verdict(test_id, False, total, total, f"hidden test {test_id}: {message}",
                       suspicious=True)

    if len(payloads) > total:
        return fail(f"{len(payloads)} results came back for {total} hidden cases (a result "
                    "was sent twice, or output was forged)")
    by_case = {}
    for payload in payloads:
        problem = _envelope_problem(payload, test_id, nonce, total)
        if problem:
            return fail(problem)
        if payload["case"] in by_case:
            return fail(f"hidden case {payload['case'] + 1} came back more than once")
        by_case[payload["case"]] = payload
    failures = []
    for index, case in enumerate(cases):
        payload = by_case.get(index)
        if payload is None:
            problem = "no result came back (the cell stopped before it, or its output was lost)"
        else:
            try:
                problem = _case_problem(case, payload)
            except Exception as exc:  # noqa: BLE001 - the judge module's fault: fail closed
                problem = (f"the grader could not judge it ({type(exc).__name__}: {exc}); "
                           "tell your instructor")
        if problem:
            failures.append(f"{case.label(index, total)} {problem}")
    if failures:
        more = f" ({len(failures)} of {total} hidden cases failed)" if len(failures) > 1 else ""
        return Verdict(test_id, False, total, len(failures),
                       f"hidden test failed: {failures[0]}{more}")
    cases = f"all {total} cases" if total != 1 else "its case"
    return Verdict(test_id, True, total, 0,
                   f"hidden tests: {cases} passed (checked by the grader)")
