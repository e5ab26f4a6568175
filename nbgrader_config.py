"""nbgrader configuration of the course. The course root is this folder."""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "nn-from-scratch"
c.CourseDirectory.root = "."

# Notebooks are executed by the student's kernel name, whatever it says in the file.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
