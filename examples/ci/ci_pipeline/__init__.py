"""The CI example: daily sales -> cleaned rows -> weekly totals -> per-shop summary -> text report.

Five steps with data dependencies, pure pandas, a fraction of a second in total. Run it with
``dds run ci_pipeline.pipeline:main`` from ``examples/ci`` (see docs/ci.md).
"""
