"""``dds pin [PATH...]`` and ``dds unpin PATH...``: values that ``dds gc`` must keep (see dds/step/pins.py)."""

from __future__ import annotations

import click

from . import store_option  # defined before this module is imported by dds/cli/__init__.py


@click.command("pin")
@store_option
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.pass_context
def pin_command(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Pin each PATH's current value so that gc keeps it; without PATH, list the pins.

    Example: dds pin /models/churn   (then dds gc never deletes that model, even after /models/churn moves on)
    """
    from ..step.pins import pin_in
    from . import _path, _store

    store = _store(ctx)
    if not paths:
        pins = list(store.iter_pins())
        for path, sig in pins:
            click.echo(f"{path}\t{sig[:10]}")
        if not pins:
            click.echo("no pins in the " + store.describe())
        return
    for raw in paths:
        path = _path(raw)
        sig, new = pin_in(store, path)
        click.echo(f"{'pinned' if new else 'already pinned'}\t{path}\t{sig[:10]}")


@click.command("unpin")
@store_option
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.pass_context
def unpin_command(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Remove the pins of each PATH (gc may then delete values no path points to).

    Example: dds unpin /models/churn
    """
    from . import _path, _store

    store = _store(ctx)
    for raw in paths:
        path = _path(raw)
        removed = store.unpin(path)
        click.echo(f"{'unpinned' if removed else 'was not pinned'}\t{path}" +
                   (f"\t{', '.join(s[:10] for s in removed)}" if removed else ""))
