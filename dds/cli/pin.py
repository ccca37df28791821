"""``dds pin [PATH...]`` and ``dds unpin PATH...``: values that ``dds gc`` must keep (see dds/step/pins.py)."""

from __future__ import annotations

import click

from .common import store_of, store_option, store_path


@click.command("pin")
@store_option
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.pass_context
def pin_command(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Pin each PATH's current value so that gc keeps it; without PATH, list the pins.

    Example: dds pin /models/churn   (then dds gc never deletes that model, even after /models/churn moves on)
    """
    from ..step.pins import pin_in

    store = store_of(ctx)
    if not paths:
        pins = list(store.iter_pins())
        for path, sig in pins:
            click.echo(f"{path}\t{sig[:10]}")
        if not pins:
            click.echo("no pins in the " + store.describe())
        return
    for raw in paths:
        path = store_path(raw)
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

    store = store_of(ctx)
    for raw in paths:
        path = store_path(raw)
        removed = store.unpin(path)
        click.echo(f"{'unpinned' if removed else 'was not pinned'}\t{path}" +
                   (f"\t{', '.join(s[:10] for s in removed)}" if removed else ""))
