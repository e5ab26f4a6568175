"""CI fails when a committed generated file (release/, solutions/) is out of step with source/."""

import pytest

from coursetools.commands import release
from coursetools.course import Course


@pytest.mark.slow
def test_release_and_solutions_are_generated_from_current_source():
    assert Course().assignments(), "no assignment under source/"
    problems = release.stale_files(Course())
    assert problems == [], "stale generated files (run `make release`):\n" + "\n".join(problems)
