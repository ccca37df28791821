"""The on-disk code cache (dds/signature/shape_cache.py): a fresh process reads function shapes stored by an
earlier one instead of parsing, and never a shape of code other than what it runs.

Every case runs real files in fresh processes (``Project``) with the cache in ``tmp_path/cache``. What a
process had to locate and parse itself is observable: ``source._nodes`` holds every function it found the
AST of, so an empty list means every shape came from the cache.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from pipeline_project import Project

STEPS = {
    "proj/helpers.py": '''
        FACTOR = 3


        def scale(x):
            return x * FACTOR


        def offset(x):
            return x + 1
    ''',
    "proj/steps.py": '''
        import dds
        from proj._trace import trace
        from proj.helpers import offset, scale


        def first(n):
            trace("first")
            return scale(n)


        def second(v):
            trace("second")
            return offset(v)


        def pipeline():
            a = dds.keep("/first", first, 2)
            return dds.keep("/second", second, a)
    ''',
}

ALL = ["first", "offset", "scale", "second", "trace"]  # every function the two steps reach
RUN = '''
    import json, dds
    from dds.signature import source
    from proj.steps import pipeline
    value = pipeline()
    store = dds.get_store()
    print(json.dumps({"value": value, "sigs": {p: store.get_ref(p) for p in ("/first", "/second")},
                      "located": sorted(code.co_name for code, _ in source._nodes.values())}))
'''


@pytest.fixture
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("DDS_CODE_CACHE", str(directory))
    return directory


def run(project: Project) -> dict:
    out = json.loads(project.python(RUN).stdout.strip().splitlines()[-1])
    out["ran"] = project.ran()
    return out


def entry_files(cache) -> list:
    return sorted(cache.rglob("*.json"))


def test_a_second_process_reads_every_shape_from_the_cache(tmp_path, cache):
    project = Project(tmp_path, STEPS)
    first = run(project)
    assert first["ran"] == ["first", "second"] and first["value"] == 7
    assert first["located"] == ALL
    assert len(entry_files(cache)) == 3  # helpers.py, steps.py and _trace.py, one file each

    second = run(project)
    assert second["ran"] == [] and second["value"] == 7
    assert second["located"] == []  # nothing parsed: every shape came from disk
    assert second["sigs"] == first["sigs"]


def test_signatures_with_the_cache_equal_signatures_without_it(tmp_path, cache, monkeypatch):
    project = Project(tmp_path, STEPS)
    run(project)
    warm = run(project)
    monkeypatch.setenv("DDS_CODE_CACHE", "off")
    cold = run(project)
    assert cold["located"] == ALL
    assert cold["ran"] == [] and cold["sigs"] == warm["sigs"]


def test_an_edit_is_seen_although_the_old_shape_is_cached(tmp_path, cache):
    project = Project(tmp_path, STEPS)
    before = run(project)
    project.edit("proj/helpers.py", "return x + 1", "return x + 2")
    after = run(project)
    assert after["ran"] == ["second"] and after["value"] == 8
    assert after["sigs"]["/first"] == before["sigs"]["/first"]
    assert after["sigs"]["/second"] != before["sigs"]["/second"]
    assert after["located"] == ["offset", "scale"]  # the edited file's functions only; steps.py from cache

    project.edit("proj/helpers.py", "return x + 2", "return x + 1")  # back to the first text: cached again
    reverted = run(project)
    assert reverted["ran"] == [] and reverted["located"] == [] and reverted["sigs"] == before["sigs"]


def test_an_edit_of_the_same_size_with_the_old_mtime_is_seen(tmp_path, cache):
    """The cache is found by the file's text, not by its size and mtime: a same-size edit whose mtime is put
    back (as ``cp -p`` or an archive restore can do) still gets the new code's shape."""
    project = Project(tmp_path, STEPS)
    before = run(project)
    path = project.src / "proj/helpers.py"
    stat = path.stat()
    project.edit("proj/helpers.py", "return x + 1", "return x + 5")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    after = run(project)
    assert after["ran"] == ["second"] and after["value"] == 11
    assert after["sigs"]["/second"] != before["sigs"]["/second"]


@pytest.mark.parametrize("damage", [
    b"", b"{not json", b"[]", json.dumps({"1:x": "y"}).encode(),
    json.dumps({str(i): [None, [1, 2, 3, 4, 5]] for i in range(30)}).encode(),
])
def test_damaged_cache_files_are_misses_never_errors(tmp_path, cache, damage):
    project = Project(tmp_path, STEPS)
    first = run(project)
    for path in entry_files(cache):
        path.write_bytes(damage)
    again = run(project)
    assert again["ran"] == [] and again["sigs"] == first["sigs"] and again["value"] == 7
    assert again["located"] == ALL


def test_entries_with_wrong_types_are_misses(tmp_path, cache):
    project = Project(tmp_path, STEPS)
    first = run(project)
    for path in entry_files(cache):
        entries = json.loads(path.read_text())
        for key in entries:
            entry = json.loads(entries[key])  # each entry is a JSON text of its own
            entry[1][0] = 12345  # an ast digest that is not a string
            entries[key] = json.dumps(entry)
        path.write_text(json.dumps(entries))
    again = run(project)
    assert again["ran"] == [] and again["sigs"] == first["sigs"]
    assert again["located"] == ALL


def test_off_writes_nothing(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("DDS_CODE_CACHE", "off")
    project = Project(tmp_path, STEPS)
    run(project)
    assert run(project)["located"] == ALL
    assert not cache.exists()


def test_a_cache_location_that_cannot_be_created_disables_it_quietly(tmp_path, cache, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("DDS_CODE_CACHE", str(blocker / "cache"))
    project = Project(tmp_path, STEPS)
    assert run(project)["value"] == 7
    second = run(project)
    assert second["ran"] == [] and second["located"] == ALL


def test_a_file_saved_after_the_process_started_is_checked_once_then_served_by_its_running_code(tmp_path, cache):
    """A file newer than the process may not be the code running: the first process compiles it and compares
    each function with the running code before storing its shape; a later process, whose file is still newer
    than itself, takes the shape from the entry of the file's text because its running code has the digest
    the entry was recorded with (no parse, no compile)."""
    project = Project(tmp_path, STEPS)
    future = time.time() + 3600
    os.utime(project.src / "proj/helpers.py", (future, future))
    first = run(project)
    assert first["located"] == ALL
    second = run(project)
    assert second["ran"] == [] and second["value"] == 7 and second["sigs"] == first["sigs"]
    assert second["located"] == []
    assert len(entry_files(cache)) == 3  # helpers.py too, stored once its functions were checked


def test_a_touched_file_is_served_from_the_cache_and_signs_as_before(tmp_path, cache):
    """Saved again with the same text (an editor's save, a ``touch``, a checkout) right before the run: the
    shapes come from the cache, found by the text and confirmed by the running code; nothing re-runs."""
    project = Project(tmp_path, STEPS)
    before = run(project)
    now = time.time() + 5  # newer than the next process's start
    for name in ("proj/helpers.py", "proj/steps.py"):
        os.utime(project.src / name, (now, now))
    after = run(project)
    assert after["ran"] == [] and after["located"] == [] and after["sigs"] == before["sigs"]


EDITED_AFTER_IMPORT = '''
    import json, pathlib, dds
    from dds.errors import SourceUnavailableError
    from dds.signature import source
    from proj.steps import pipeline
    helpers = pathlib.Path("src/proj/helpers.py")
    helpers.write_text(helpers.read_text().replace("return x + 1", "return x + 2"))  # after the import
    try:
        pipeline()
        print(json.dumps({"error": None}))
    except SourceUnavailableError as exc:
        print(json.dumps({"error": str(exc)}))
'''


def test_a_file_edited_after_import_to_a_cached_text_is_refused_not_served(tmp_path, cache):
    """The entry of the new text was recorded by a process running that text; this process runs the old code,
    whose digest differs: the cache must not serve it (that would sign old code with the new code's shape and
    store its value as the new code's), so the full check runs and refuses the run."""
    project = Project(tmp_path, STEPS)
    project.edit("proj/helpers.py", "return x + 1", "return x + 2")
    run(project)  # the cache now holds helpers.py's "+ 2" text, recorded with its own code
    project.edit("proj/helpers.py", "return x + 2", "return x + 1")
    out = json.loads(project.python(EDITED_AFTER_IMPORT).stdout.strip().splitlines()[-1])
    assert out["error"] is not None and "changed on disk after" in out["error"]
    assert "second" not in project.ran()


LAMBDAS = {
    "proj/steps.py": '''
        import dds

        double, triple = (lambda x: x * 2), (lambda x: x * 3)


        def pipeline():
            return [dds.keep("/first", double, 5), dds.keep("/second", triple, 5)]
    ''',
}


def test_two_lambdas_on_one_line_are_never_cached_under_one_key(tmp_path, cache):
    project = Project(tmp_path, LAMBDAS)
    first = run(project)
    second = run(project)
    assert first["value"] == second["value"] == [10, 15]
    assert second["sigs"] == first["sigs"] and first["sigs"]["/first"] != first["sigs"]["/second"]
    assert second["located"] == ["<lambda>", "<lambda>"]  # located again each time, by column
    for path in entry_files(cache):
        assert not any(key.endswith(":<lambda>") for key in json.loads(path.read_text()))


def test_a_full_directory_loses_its_oldest_half(tmp_path, monkeypatch):
    from dds.signature import shape_cache

    directory = tmp_path / "entries"
    directory.mkdir()
    for i in range(10):
        path = directory / f"{i:02d}.json"
        path.write_text("{}")
        os.utime(path, (1000 + i, 1000 + i))
    monkeypatch.setattr(shape_cache, "_MAX_FILES", 8)
    monkeypatch.setattr(shape_cache, "_pruned", False)
    shape_cache.reset(str(directory))
    shape_cache._files["new"] = {"1:f": '[2, ["d", [], {}, [], []]]'}
    shape_cache._dirty.add("new")
    try:
        shape_cache.flush()
    finally:
        shape_cache.reset()
    assert sorted(p.name for p in directory.iterdir()) == [f"{i:02d}.json" for i in range(5, 10)] + ["new.json"]
