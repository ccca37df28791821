"""Whole pipelines: discovery and plan (``plan``), running them (``evaluate``), explaining decisions
(``explain``), run reports (``report``), lineage (``lineage``) and drawing (``drawing``).

Owns everything that looks at a pipeline function as a whole. Builds on ``signature`` (for exact
signatures), ``step`` and ``session``; must not be imported by ``signature``, ``store`` or ``codecs``.
"""
