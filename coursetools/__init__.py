"""Instructor tooling: the glue around nbgrader (release, autograde, report)."""
