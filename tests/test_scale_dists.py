"""The distribution map kept in the code cache (``dds.signature.dist_index``) is never stale: installing,
removing, renaming or editing a distribution's metadata changes its key (a wrong map would give a library
the wrong version in a signature, hence a stale value)."""

from __future__ import annotations

import os
import sys

import pytest

from dds.signature import dist_index


def _dist(root, dirname: str, name: str, version: str, top: str) -> None:
    d = root / dirname
    d.mkdir()
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (d / "top_level.txt").write_text(top + "\n")


@pytest.fixture
def site_dir(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    return site


def test_the_cached_map_follows_every_change_of_the_installed_distributions(tmp_path, site_dir):
    cache = tmp_path / "cache"
    cache.mkdir()
    _dist(site_dir, "fakepkg-1.0.dist-info", "fakepkg", "1.0", "fakemod")
    first = dist_index.packages_distributions(str(cache))
    assert first["fakemod"] == ["fakepkg"]
    assert dist_index.packages_distributions(str(cache)) == first  # the second answer comes from the cache
    assert os.listdir(cache / "dists")

    os.rename(site_dir / "fakepkg-1.0.dist-info", site_dir / "otherpkg-2.0.dist-info")  # another distribution
    meta = site_dir / "otherpkg-2.0.dist-info" / "METADATA"
    meta.write_text("Metadata-Version: 2.1\nName: otherpkg\nVersion: 2.0\n")
    assert dist_index.packages_distributions(str(cache))["fakemod"] == ["otherpkg"]

    top = site_dir / "otherpkg-2.0.dist-info" / "top_level.txt"
    top.write_text("renamedmod\n")  # edited in place
    st = top.stat()
    os.utime(top, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    now = dist_index.packages_distributions(str(cache))
    assert "fakemod" not in now and now["renamedmod"] == ["otherpkg"]

    _dist(site_dir, "third-1.0.dist-info", "third", "1.0", "renamedmod")  # a second provider appears
    assert sorted(dist_index.packages_distributions(str(cache))["renamedmod"]) == ["otherpkg", "third"]
    assert dist_index.packages_distributions(str(cache)) == dist_index.packages_distributions(None)


def test_no_cache_when_another_finder_lists_distributions(tmp_path, site_dir, monkeypatch):
    class Finder:
        @staticmethod
        def find_distributions(context=None):
            return iter(())

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder])
    assert dist_index._key() is None
    cache = tmp_path / "cache"
    cache.mkdir()
    _dist(site_dir, "fakepkg-1.0.dist-info", "fakepkg", "1.0", "fakemod")
    assert dist_index.packages_distributions(str(cache))["fakemod"] == ["fakepkg"]
    assert os.listdir(cache) == []


def test_an_unreadable_cache_entry_is_a_miss(tmp_path, site_dir):
    cache = tmp_path / "cache"
    cache.mkdir()
    _dist(site_dir, "fakepkg-1.0.dist-info", "fakepkg", "1.0", "fakemod")
    (cache / "dists").mkdir()
    (cache / "dists" / f"{dist_index._key()}.map").write_text('{"fakemod": ["wrong"')  # torn
    assert dist_index.packages_distributions(str(cache))["fakemod"] == ["fakepkg"]
