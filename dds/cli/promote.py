"""``dds promote PATH... --to URL``: copy values with their metadata and refs to another store."""

from __future__ import annotations

import click

from .common import store_of, store_option


@click.command("promote")
@store_option
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--to", "target", required=True, metavar="URL",
              help="The store to copy to: an fsspec URL such as s3://bucket/dds, or a local store's folder.")
@click.pass_context
def promote_command(ctx: click.Context, paths: tuple[str, ...], target: str) -> None:
    """Copy each PATH's current value from --store to --to (verified; nothing is copied twice)."""
    from ..store.open import open_store
    from ..store.promote import promote

    source, destination = store_of(ctx), open_store(target)
    for path in paths:
        done = promote(path, source, destination)
        click.echo(f"{'promoted' if done.copied else 'up to date'}\t{done.path}\t{done.signature[:10]}\t"
                   f"{destination.describe()}")
