"""The instructor's grading pipeline behind ``python -m autograder`` (see docs/instructors.md).

collect -> grade -> feedback / export / report, around nbgrader's own gradebook:

* :mod:`.collect`  -- submissions from an nbgrader exchange or an LMS download into ``submitted/``;
* :mod:`.grade`    -- the parallel, idempotent grading run (local workers or a Dask cluster);
  its docstring says why jobs grade into private gradebooks that the parent merges;
* :mod:`.jobs`     -- one submission as a self-contained job, and its result;
* :mod:`.preflight` -- what is rejected or repaired before nbgrader runs, and the reasons;
* :mod:`.sandbox`, :mod:`.nbgrader_child`, :mod:`.kernel` -- the job process (limits, fork
  server, per-slot uid) and the kernel that runs student code;
* :mod:`.gradebook` -- the one-transaction merge into nbgrader's database (SQLite or PostgreSQL);
* :mod:`.feedback`, :mod:`.export`, :mod:`.report` -- what the students and the instructor read;
* :mod:`.synthetic`, :mod:`.bench` -- synthetic classes for the tests and ``bench-grading``.
"""
