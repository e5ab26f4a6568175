"""Hidden tests judged by the grader, outside the student's kernel: the kernel computes, the
grader judges.

For every test cell with a hidden test, the grader (``coursetools.preprocessors``:
``InjectHiddenCases`` before execution, ``JudgeHiddenCases`` after):

1. draws the test's hidden cases from the course's judge module (``judges/<assignment>.py``,
   hidden from every kernel, never in release/) with a generator seeded from the course's
   secret, the student and the test (``secret``), keeps them, and puts a request with their
   inputs into the cell's hidden block (``cases``);
2. lets the kernel run the cell: its hidden block (``nnscratch.hidden``) calls the
   student's functions on those inputs and sends back the results as data (``nnscratch.wire``);
3. decodes what came back strictly and compares it with its own reference values, computed
   in its own process (``expect``, ``verdict``), and writes the verdict into the graded
   notebook: an error output when the test failed, which nbgrader then scores 0.

Nothing the kernel does can raise a grade: it never sees an expected value, and what it
sends back passes only when it is right for inputs it could not know in advance.

A judge module imports its helpers from here::

    from coursetools.judging import Case, accuracy_at_least, close, hidden_test, pair
"""

from coursetools.judging.cases import Case, hidden_test
from coursetools.judging.expect import accuracy_at_least, close, pair

__all__ = ["Case", "accuracy_at_least", "close", "hidden_test", "pair"]
