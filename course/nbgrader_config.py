"""nbgrader configuration of the quantization course (run nbgrader from this folder)."""
import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "quantization"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading runs each notebook top to bottom.  A cell may take at most 120 s (the hidden checks of
# a correct answer take well under a second; the limit is for slow or looping submissions), and
# a notebook that stops its kernel is not retried.
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.interrupt_on_timeout = True
c.Execute.timeout = 120
c.Execute.execute_retries = 0

# Student versions carry no outputs and keep the checksums nbgrader uses to spot edited cells.
c.ClearOutput.enabled = True
c.GenerateAssignment.create_assignment = True
