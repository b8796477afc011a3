"""nbgrader configuration for a JupyterLab opened at the repository root (`make lab`).

The course itself lives in `course/`; this file points nbgrader's Formgrader and its commands
there, and loads the course's own settings.
"""
import os

c = get_config()  # noqa: F821 - provided by nbgrader
load_subconfig(os.path.join(os.path.dirname(os.path.abspath(__file__)), "course", "nbgrader_config.py"))  # noqa: F821
c.CourseDirectory.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course")
