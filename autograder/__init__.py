"""autograder: the checks that grade the course's assignments, and the instructor's commands.

* :mod:`autograder.harness` -- run untrusted student functions safely;
* :mod:`autograder.checking` -- compare them with :mod:`quantref` and name known mistakes;
* :mod:`autograder.ps1` ... -- one package of checks per problem set;
* :mod:`autograder.selfcheck` -- ``check(my_function)``: check an answer from a notebook;
* :mod:`autograder.build` -- generate the student versions and worked solutions
  (``python -m autograder build``).
"""
from .harness import CheckFailed
from .selfcheck import check

__all__ = ["CheckFailed", "check"]
