"""The words for what happened to a path (or, in a plan, what would): one set for the plan, the run report,
``dds status``, the drawing and ``dds.info``. A leaf."""

FRESH = "fresh"  # stored for this code: loads
WILL_RUN = "will run"  # code, inputs or upstream changed
MAY_RUN = "may run"  # depends on values known only at run time
RAN = "ran"
LOADED = "loaded"
FAILED = "failed"
SKIPPED = "skipped"  # not reached: an upstream step failed

PLANNED = (FRESH, WILL_RUN, MAY_RUN)
AFTER_RUN = (RAN, LOADED, FAILED, SKIPPED)
