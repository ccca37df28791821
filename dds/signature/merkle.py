"""Signatures from local digests: every unit's signature covers its own digest and everything it reaches.

Recursion (a unit reaching itself) is handled by hashing each strongly connected component as a whole
(iterative Tarjan, sinks first), so a chain of thousands of helpers does not hit Python's recursion limit.
Imports only ``digest`` and ``tree``.
"""

from __future__ import annotations

from .digest import Tag, digest
from .tree import Unit, unit_digest


def sign(root: Unit) -> None:
    """Assign ``sig`` to every unit reachable from ``root`` (iterative Tarjan, sinks first)."""
    if _shallow(root):  # most keeps: the call and units that reach nothing (same digests as below)
        for leaf in root.refs:
            leaf.sig = unit_digest(leaf.local, [])
        root.sig = unit_digest(root.local, [r.sig for r in root.refs])
        return
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[Unit] = []
    counter = 0
    work: list[tuple[Unit, int]] = [(root, 0)]
    while work:
        unit, i = work.pop()
        uid = id(unit)
        if i == 0:
            index[uid] = low[uid] = counter
            counter += 1
            stack.append(unit)
            on_stack.add(uid)
        if i < len(unit.refs):
            work.append((unit, i + 1))
            child = unit.refs[i]
            cid = id(child)
            if cid not in index:
                work.append((child, 0))
            elif cid in on_stack:
                low[uid] = min(low[uid], index[cid])
            continue
        if low[uid] == index[uid]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(id(member))
                component.append(member)
                if member is unit:
                    break
            _sign_component(component)
        if work:
            parent = work[-1][0]
            low[id(parent)] = min(low[id(parent)], low[uid])


def _shallow(root: Unit) -> bool:
    """The root reaches only units that reach nothing: each is a component of its own, signed alone."""
    return all(not unit.refs for unit in root.refs) and root not in root.refs


def _sign_component(component: list[Unit]) -> None:
    if len(component) == 1 and component[0] not in component[0].refs:
        unit = component[0]
        unit.sig = unit_digest(unit.local, [r.sig for r in unit.refs])
        return
    members = set(map(id, component))
    parts = []
    for unit in sorted(component, key=lambda u: u.key):
        refs = [("scc:" + r.key) if id(r) in members else r.sig for r in unit.refs]
        parts.append(digest(Tag.MEMBER, unit.key, unit.local, *refs))
    group = digest(Tag.COMPONENT, *parts)
    for unit in component:
        unit.sig = digest(Tag.IN_COMPONENT, unit.key, group)
