"""The pipeline CI runs: ``dds run ci_pipeline.pipeline:main --store s3://bucket/dds``."""

from __future__ import annotations

import dds

from . import steps

N_DAYS = 90


def main() -> str:
    sales = dds.keep("/ci/sales", steps.make_sales, N_DAYS)
    rows = dds.keep("/ci/clean", steps.clean, sales)
    dds.keep("/ci/weekly", steps.weekly, rows)
    totals = steps.summary()
    return dds.keep("/ci/report", steps.render, totals)
