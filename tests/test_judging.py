"""The grader's side of hidden tests (coursetools.judging), without a kernel.

A kernel's results are played by hand-made payloads: every way a payload can be wrong
fails the test, with a sentence; the right ones pass; the cases depend on the secret, the
student and the test, and on nothing else.
"""

import base64
import json

import numpy as np
import pytest

from coursetools.judging import Case, accuracy_at_least, close, pair
from coursetools.judging.cases import request
from coursetools.judging.secret import case_rng, load_or_create, rotate
from coursetools.judging.verdict import judge
from nnscratch.wire import WireError, decode, encode

X = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -4.0]])
CASES = [Case("sigmoid", (X,), close(1 / (1 + np.exp(-X)), atol=1e-9), "x of shape (2, 3)",
              ("x",)),
         Case("sigmoid", (X[:1],), close(1 / (1 + np.exp(-X[:1])), atol=1e-9), "", ("x",))]
NONCE = "n0nce"


def payload(case, result, args=None, **changes):
    base = {"v": 1, "test": "test_sigmoid", "nonce": NONCE, "case": case,
            "result": encode(result), "args": encode(list(args or CASES[case].args))}
    base.update(changes)
    return base


def right():
    return [payload(i, 1 / (1 + np.exp(-c.args[0]))) for i, c in enumerate(CASES)]


def verdict(payloads):
    return judge("test_sigmoid", NONCE, CASES, payloads)


def test_right_results_pass():
    result = verdict(right())
    assert result.passed and result.failed == 0 and "all 2 cases passed" in result.message


@pytest.mark.parametrize("tamper, words", [
    (lambda p: p[:1], "no result came back"),
    (lambda p: [p[0], p[0], p[1]], "3 results came back for 2"),
    (lambda p: [p[0], dict(p[1], case=0)], "came back more than once"),
    (lambda p: [p[0], dict(p[1], test="test_relu")], "another test"),
    (lambda p: [p[0], dict(p[1], nonce="old")], "replayed"),
    (lambda p: [p[0], dict(p[1], case=7)], "did not send"),
    (lambda p: [p[0], dict(p[1], extra=1)], "not in the grader's format"),
    (lambda p: [p[0], dict(p[1], v=2)], "version"),
    (lambda p: [p[0], dict(p[1], result="x" * (5 * 1024**2))], "larger than"),
    (lambda p: [p[0], dict(p[1], result={"$nd": [[1, 3], "AAAA"]})], "does not fit its shape"),
    (lambda p: [p[0], dict(p[1], result={"__pickle__": "gASV"})], "unexpected tag"),
    (lambda p: [p[0], dict(p[1], result=encode(np.full((1, 3), np.nan)))], "returned nan"),
    (lambda p: [p[0], dict(p[1], result=encode(np.zeros((3, 1))))], "shape (3, 1)"),
    (lambda p: [p[0], {k: v for k, v in p[1].items() if k not in ("result", "args")}
                | {"raised": "ValueError: shapes"}], "raised ValueError"),
    (lambda p: [dict(p[0], result=encode(np.round(1 / (1 + np.exp(-X)), 2))), p[1]],
     "row 0, column 0"),
    (lambda p: [dict(p[0], args=encode([X * 0])), p[1]], "changed its input x in place"),
    (lambda p: [p[0], "not a dict"], "not in the grader's format"),
])
def test_every_bad_result_fails_the_test_and_says_why(tamper, words):
    result = verdict(tamper(right()))
    assert not result.passed
    assert words in result.message, result.message
    assert "\n" not in result.message


def test_the_expected_value_is_never_shown():
    wrong = [dict(p, result=encode(np.zeros_like(CASES[p["case"]].args[0]))) for p in right()]
    result = verdict(wrong)
    assert not result.passed and "2 of 2 hidden cases failed" in result.message
    expected = 1 / (1 + np.exp(-X))
    for value in expected.ravel():
        assert f"{value:.6g}" not in result.message


def test_pairs_and_accuracy():
    check = pair(close(np.zeros(2)), close(np.ones(2)), ("wH_new", "wO_new"))
    assert check((np.zeros(2), np.ones(2))) is None and check([np.zeros(2), np.ones(2)]) is None
    assert "two things" in check(np.zeros(2))
    assert check((np.zeros(2), np.zeros(2))).startswith("wO_new is wrong at index 0")
    Xb, y = np.array([[1.0], [-1.0]]), np.array([[1.0], [0.0]])
    accuracy = accuracy_at_least(Xb, y, 1.0, lambda X, w: X @ w[0], [(1, 1)])
    assert accuracy([np.array([[1.0]])]) is None
    assert "classify 50.0% of the points" in accuracy([np.array([[0.0]])])
    assert "classify 0.0% of the points" in accuracy([np.array([[np.nan]])])  # NaN: wrong
    assert "shape" in accuracy([np.zeros((2, 2))])


def test_the_wire_format_is_strict_and_round_trips():
    value = [X, (np.zeros((2, 0)), 3, 0.5), "s", None, {"k": [1.0]}]
    back = decode(json.loads(json.dumps(encode(value))))
    assert isinstance(back[1], tuple) and back[1][1] == 3 and isinstance(back[1][1], int)
    assert np.array_equal(back[0], X) and back[0].dtype == float and back[2:4] == ["s", None]
    bad = [{"$nd": [[10**7], ""]}, {"$nd": [[2], base64.b64encode(b"x" * 8).decode()]},
           {"$nd": [[-1], ""]}, True, {"a": 1, "b": 2}, [[[[[[[[1]]]]]]]], "x" * 5000,
           {"$nd": [[1], "!!!!!!!!!!!!"]}]
    for data in bad:
        with pytest.raises(WireError):
            decode(data)
    with pytest.raises(WireError):
        decode([0.0] * 20, max_elements=10)


def test_cases_depend_on_the_secret_the_student_and_the_test(tmp_path):
    key = load_or_create(tmp_path / "grading_secret.key")
    assert load_or_create(tmp_path / "grading_secret.key") == key  # made once, then kept
    assert (tmp_path / "grading_secret.key").stat().st_mode & 0o777 == 0o600

    def draw(key, student="ada", test="test_sigmoid"):
        return case_rng(key, "course", "a", "nb", student, test).normal(size=4)

    assert np.array_equal(draw(key), draw(key))  # a regrade: the same cases
    assert not np.array_equal(draw(key), draw(key, student="blake"))
    assert not np.array_equal(draw(key), draw(key, test="test_relu"))
    rotate(tmp_path / "grading_secret.key")
    assert not np.array_equal(draw(key), draw(load_or_create(tmp_path / "grading_secret.key")))


def test_the_request_carries_inputs_not_answers():
    text = request("test_sigmoid", NONCE, CASES)
    sent = json.loads(text)
    assert [c["call"] for c in sent["cases"]] == ["sigmoid", "sigmoid"]
    assert np.array_equal(decode(sent["cases"][0]["args"])[0], X)
    for value in (1 / (1 + np.exp(-X))).ravel():
        assert base64.b64encode(np.float64(value).tobytes()).decode()[:8] not in text
