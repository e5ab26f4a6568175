"""nbgrader preprocessors of the course, one a file (as nbgrader's own ``preprocessors/``).

=======================  ==========================================================  =========
preprocessor             what it does                                                used by
=======================  ==========================================================  =========
``RestoreCellMetadata``  nbgrader metadata rebuilt from the gradebook                autograde
``DeduplicateIds``       a duplicated cell: the last copy graded, without aborting   autograde
``InjectHiddenCases``    the grader's hidden inputs into each judged test cell      autograde
``SandboxedExecute``     nbgrader's Execute with the kernel in the sandbox           autograde
``JudgeHiddenCases``     each judged test's verdict, from the kernel's results       autograde
``HideHiddenTests``      feedback without the source of hidden tests                 feedback
=======================  ==========================================================  =========

A new preprocessor goes in a file of its own here; the engine lists the autograding ones in
``coursetools.autograde.worker``; ``nbgrader_config.py`` lists them for nbgrader run by hand
(autograde, generate_solution, generate_feedback).
"""

from coursetools.preprocessors.deduplicate_ids import DeduplicateIds
from coursetools.preprocessors.hide_hidden_tests import HideHiddenTests
from coursetools.preprocessors.inject_hidden_cases import InjectHiddenCases
from coursetools.preprocessors.judge_hidden_cases import JudgeHiddenCases
from coursetools.preprocessors.restore_cell_metadata import RestoreCellMetadata
from coursetools.preprocessors.sandboxed_execute import ExecutionRecord, SandboxedExecute

__all__ = ["DeduplicateIds", "ExecutionRecord", "HideHiddenTests", "InjectHiddenCases",
           "JudgeHiddenCases", "RestoreCellMetadata", "SandboxedExecute"]
