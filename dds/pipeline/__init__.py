"""Whole pipelines: discovery and plan (``plan``), running them (``evaluate``), explaining decisions
(``explain``), ``dds run``'s recorded run (``runner``, ``report``) and ``dds status``'s exact check
(``freshness``), lineage (``lineage``), drawing (``drawing``), the status words (``status``) and stored
metadata for people (``metadata``).

Owns everything that looks at a pipeline function as a whole. Builds on ``signature`` (for exact
signatures), ``step`` and ``session``; must not be imported by ``signature``, ``store`` or ``codecs``.
"""
