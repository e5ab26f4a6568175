"""Instructor tooling: the glue around nbgrader (release, autograde, report)."""

import sys

# jsonschema (through nbformat, in every process that grades) compiles an RFC 3987 grammar
# with lark when `rfc3987_syntax` is installed: 0.7 s of CPU per process at import, for an
# "iri" format check that no notebook schema uses. Without it, jsonschema skips that check.
sys.modules.setdefault("rfc3987_syntax", None)
