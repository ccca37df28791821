"""What surrounds one ``keep``: the in-process value memo, the run record, notes on the user's failures,
where arguments came from (provenance), path overlaps and pins.

Owns the per-step bookkeeping ``api.keep`` composes. Imports ``store``, ``paths``, ``errors`` and
``session``; must not import ``pipeline``, ``cli`` or ``notebook``.
"""
