"""The user guide builds: ``mkdocs build --strict`` (what ``make docs`` runs) succeeds without a warning,
produces every page of the nav, documents the public API, and loads nothing from the network."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def nav_pages(nav) -> list[str]:
    """Every Markdown file named in mkdocs.yml's nav (nested sections included)."""
    pages: list[str] = []
    for entry in nav:
        if isinstance(entry, str):
            pages.append(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return [p for p in pages if p.endswith(".md")]


@pytest.fixture(scope="module")
def config() -> dict:
    try:
        import yaml  # PyYAML, a dependency of mkdocs
    except ImportError as exc:
        pytest.fail(f"PyYAML is not installed ({exc}): `make test` installs it with mkdocs (the dev extra).")
    return yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    try:
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"the docs toolchain is not installed ({exc}): `make test` installs it with the dev extra, "
                    f"`make docs` with the docs extra (pip install -e '.[docs]').")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
         "--site-dir", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{log[-5000:]}"
    assert "WARNING" not in log, f"mkdocs build printed warnings:\n{log[-5000:]}"
    return out


def test_every_nav_page_is_built(config, site):
    pages = nav_pages(config["nav"])
    assert "index.md" in pages and "api.md" in pages and "reliability.md" in pages
    assert len(pages) == len(set(pages)), "a page appears twice in the nav"
    for page in pages:
        assert (REPO / "docs" / page).is_file(), f"nav names docs/{page}, which does not exist"
        html = site / (page[: -len(".md")] + ".html")  # use_directory_urls: false
        assert html.is_file(), f"{page} was not built ({html} missing)"
        assert "<article" in html.read_text(encoding="utf-8")


def test_every_docs_page_is_in_the_nav(config):
    in_nav = set(nav_pages(config["nav"]))
    on_disk = {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md")}
    assert on_disk <= in_nav, f"pages missing from the nav in mkdocs.yml: {sorted(on_disk - in_nav)}"


def test_api_page_documents_the_public_api(site):
    html = (site / "api.html").read_text(encoding="utf-8")
    for name in ("keep", "load", "eval", "data_function", "set_store", "register_codec", "DDSError"):
        assert f'id="dds.{name}"' in html, f"dds.{name} is missing from the API reference"
    assert "from the store at" in html  # keep's docstring text, not only its name


def test_the_site_loads_nothing_from_the_network(site):
    remote = re.compile(r'<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)="(?:https?:)?//', re.I)
    for page in site.rglob("*.html"):
        found = remote.findall(page.read_text(encoding="utf-8"))
        assert not found, f"{page.name} loads a remote resource: {found[:3]}"
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"@import\s+url\(\s*['\"]?(?:https?:)?//|fonts\.googleapis", text), css.name
