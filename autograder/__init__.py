"""autograder: the checks that grade the course's assignments, and the instructor's commands.

* :mod:`autograder.harness` -- run untrusted student functions safely;
* :mod:`autograder.checking` -- compare them with :mod:`quantref` and name known mistakes;
* :mod:`autograder.ps1` ... -- one package of checks per problem set;
* :mod:`autograder.build` -- generate the student versions and worked solutions
  (``python -m autograder build``).
"""
from .harness import CheckFailed

__all__ = ["CheckFailed"]
