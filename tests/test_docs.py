"""The user guide builds: ``mkdocs build --strict`` (what ``make docs`` runs) succeeds without a warning,
produces every page of the nav, documents the public API, and loads nothing from the network."""

from __future__ import annotations

import os
import re
import shutil
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


# ------------------------------------------------------------------------------ the tutorial's pictures
TUTORIAL_PICTURES = ["tutorial/graph.svg", "tutorial/store.svg", "tutorial/signature.svg"]


def test_the_tutorial_shows_real_output_and_pictures_made_by_the_build(site):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed: the tutorial's pictures are replaced by a note")
    html = (site / "tutorial.html").read_text(encoding="utf-8")
    for picture in TUTORIAL_PICTURES:
        svg = site / picture
        assert svg.is_file() and svg.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg")), picture
        assert f'src="{picture}"' in html, f"the tutorial does not show {picture}"
    graph = (site / "tutorial/graph.svg").read_text(encoding="utf-8")
    assert "/example/report" in graph and "legend" in graph and "will run" in graph and "? ·" not in graph
    assert "SLOPE = 4.0" in (site / "tutorial/signature.svg").read_text(encoding="utf-8")
    assert "<!-- dds-output" not in html, "a tutorial output was not filled in"
    text = re.sub(r"<[^>]+>", "", html)
    for seen in ("$ dds run pipeline:main", "SLOPE changed 3.0 -&gt; 4.0", "4 loaded", "1 ran, 3 loaded",
                 "$ dds why /example/model", "PATH             SIGNATURE", "because pipeline.make_raw: SLOPE",
                 "dds status: 1 of 4 path(s) would re-run: /example/report"):
        assert seen in text, f"the tutorial lacks {seen!r}"


def test_the_notebooks_are_pages_with_their_outputs(site):
    page = (site / "notebooks" / "01_quickstart.html").read_text(encoding="utf-8")
    assert "dds: computed /quickstart/lengths" in page and "code changed (In [" in page
    assert 'href="notebooks/01_quickstart.html"' in (site / "tutorial.html").read_text(encoding="utf-8")


def test_no_raw_sphinx_role_on_the_api_page(site):
    html = (site / "api.html").read_text(encoding="utf-8")
    assert not re.search(r":(?:class|func|meth|mod|attr|exc):", html), "a raw Sphinx role is shown"
    assert "<code>dds.pipeline.plan.Plan</code>" in html


def test_cli_headings_are_short(site):
    toc = re.findall(r'<a href="#([\w-]+)" class="md-nav__link">\s*<span class="md-ellipsis">\s*(.*?)\s*</span>',
                     (site / "cli.html").read_text(encoding="utf-8"), re.S)
    titles = [re.sub(r"<[^>]+>", "", title) for _, title in toc]
    assert "dds run" in titles and "dds cat" in titles, titles
    assert all(len(title) <= 24 for title in titles), [t for t in titles if len(t) > 24]


# ----------------------------------------------------------------------------- in a real browser
def _chromium() -> str:
    """Debian's Chromium (`make test` installs it where it can, like graphviz); skipped when absent."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium: the browser checks need it (make chromium, or apt-get install chromium)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from _chromium_cdp import Browser

    with Browser(_chromium(), tmp_path_factory.mktemp("chromium")) as b:
        yield b


@pytest.fixture(scope="module")
def served(site):
    """The site on http://127.0.0.1:PORT (search needs it: browsers refuse fetch() on file://)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(__import__("http.server").server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_pages_render_from_disk_with_their_pictures(site, browser, tmp_path):
    for page in ("index.html", "tutorial.html", "notebooks/01_quickstart.html"):
        browser.open((site / page).as_uri())
        assert browser.evaluate("document.querySelector('article h1') !== null"), page
        shot = tmp_path / (page.replace("/", "_") + ".png")
        shot.write_bytes(browser.screenshot())
        assert shot.stat().st_size > 10_000, f"{page}: the screenshot is blank"
        overflowing = browser.evaluate(
            "[...document.querySelectorAll('article pre > code')].filter(c => c.scrollWidth > c.clientWidth + 1)"
            ".length")
        assert overflowing == 0, f"{page}: {overflowing} code block(s) cut behind a scrollbar at 1280 px"
    browser.open((site / "tutorial.html").as_uri())
    images = browser.evaluate("[...document.querySelectorAll('article img')].map(i => [i.getAttribute('src'), "
                              "i.complete && i.naturalWidth > 0])")
    if shutil.which("dot"):
        assert sorted(src for src, _ in images) == sorted(TUTORIAL_PICTURES), images
    assert all(loaded for _, loaded in images), f"pictures that did not load: {images}"


def test_search_answers_a_query(served, browser):
    browser.open(f"{served}/tutorial.html")
    found = browser.search("signature tree")
    assert any("tutorial.html" in href for href in found), found
