"""CI fails when a committed generated file (release/, solutions/) is out of step with source/."""

import pytest

from coursetools import release
from coursetools.paths import assignments


@pytest.mark.slow
def test_release_and_solutions_are_generated_from_current_source():
    assert assignments(), "no assignment under source/"
    problems = release.stale_files()
    assert problems == [], "stale generated files (run `make release`):\n" + "\n".join(problems)
