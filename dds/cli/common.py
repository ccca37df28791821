"""What every ``dds`` subcommand shares: ``--store`` on the subcommand, which store the command line names,
store paths typed without their leading '/', and examples in ``--help``. Click only; the store rule itself is
:mod:`dds.store.open`."""

from __future__ import annotations

from typing import Callable

import click

from ..paths import validate_path


def _remember_store(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta["dds.store"] = value  # ctx.meta is shared by the whole command line: store_of reads it


def store_option(command: Callable) -> Callable:
    """``--store`` on a subcommand (``dds ls --store DIR``); it wins over ``dds --store DIR ls``."""
    return click.option("--store", metavar="DIR|URL", default=None, expose_value=False, callback=_remember_store,
                        help="The store (a directory or an fsspec URL such as s3://bucket/dds); default "
                             "$DDS_DIR, else ./.dds.")(command)


def location(ctx: click.Context) -> str:
    return ctx.meta.get("dds.store") or ctx.find_root().obj


def store_of(ctx: click.Context):
    """The store the command reads (the rule of :mod:`dds.store.open`); a local one must exist already."""
    from ..store.open import open_store

    return open_store(location(ctx), must_exist=True)


def store_path(path: str) -> str:
    """A store path typed on the command line: ``example/model`` means ``/example/model``."""
    return validate_path(path if path.startswith("/") else "/" + path)


def example(*lines: str) -> str:
    """An epilog for --help: click keeps the lines as they are (``\\b``)."""
    return "\b\nExample:\n" + "\n".join(f"  {line}" for line in lines)
