"""nbgrader preprocessors of the course, one a file (as nbgrader's own ``preprocessors/``).

=======================  ==========================================================  =========
preprocessor             what it does                                                used by
=======================  ==========================================================  =========
``RestoreCellMetadata``  nbgrader metadata rebuilt from the gradebook                autograde
``DeduplicateIds``       a duplicated cell: the last copy graded, without aborting   autograde
``SandboxedExecute``     nbgrader's Execute with the kernel in the sandbox           autograde
``HideHiddenTests``      feedback without the source of hidden tests                 feedback
=======================  ==========================================================  =========

A new preprocessor goes in a file of its own here; the engine lists the autograding ones in
``coursetools.autograde.worker``, ``nbgrader_config.py`` the feedback one.
"""

from coursetools.preprocessors.deduplicate_ids import DeduplicateIds
from coursetools.preprocessors.hide_hidden_tests import HideHiddenTests
from coursetools.preprocessors.restore_cell_metadata import RestoreCellMetadata
from coursetools.preprocessors.sandboxed_execute import ExecutionRecord, SandboxedExecute

__all__ = ["DeduplicateIds", "ExecutionRecord", "HideHiddenTests", "RestoreCellMetadata",
           "SandboxedExecute"]
