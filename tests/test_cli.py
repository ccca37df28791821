"""The ``dds`` command end to end: every command in a subprocess, on a real local store.

The store is filled by running a small pipeline (``pipe.py``) in a fresh process twice: run 1 with
``K=2`` and ``BUILD=b1``, run 2 with ``K=3`` and ``BUILD=b2``. After run 2, ``/data/raw`` is still run 1's
value, ``/data/scaled`` and ``/data/total`` were recomputed, and their run-1 values are orphans.
"""

from __future__ import annotations

import json
import re
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

PIPE = textwrap.dedent('''
    import os
    import dds
    import dds.step.runinfo

    dds.step.runinfo.set_run_info_fn(lambda: {"build": os.environ["BUILD"]})
    K = int(os.environ["K"])

    def raw(n):
        return list(range(n))

    def scaled(k):
        return [x * k for x in dds.load("/data/raw")]

    @dds.data_function("/data/total")
    def total():
        return sum(dds.keep("/data/scaled", scaled, K))

    def main():
        dds.keep("/data/raw", raw, 5)
        return total()
''')
PATHS = ["/data/raw", "/data/scaled", "/data/total"]
VALUES = {"/data/raw": [0, 1, 2, 3, 4], "/data/scaled": [0, 3, 6, 9, 12], "/data/total": 30}


def run_pipeline(workdir: Path, store: Path, k: int, build: str) -> None:
    env = {**os.environ, "DDS_DIR": str(store), "K": str(k), "BUILD": build}
    out = subprocess.run([sys.executable, "-c", "import pipe; print(pipe.main())"], cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def dds_cli(store: Path | None, *args: str, cwd: Path | None = None, env: dict | None = None):
    cmd = [sys.executable, "-m", "dds.cli", *(["--store", str(store)] if store is not None else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, **(env or {})})


def load_all(store: Path, paths: list[str]) -> dict:
    code = "import dds, json, sys; print(json.dumps({p: dds.load(p) for p in sys.argv[1:]}))"
    out = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "DDS_DIR": str(store)})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def ls_rows(result) -> list[list[str]]:
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]


def nothing_matched(result, what: str) -> bool:
    """``dds ls`` that matched nothing: exit 1, nothing on stdout, and a sentence saying so on stderr."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == "" and f"nothing is stored {what}" in result.stderr, result.stderr
    return True


def files_of(store: Path) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.rglob("*"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The store after both runs, plus the signatures each run gave each path."""
    workdir = tmp_path_factory.mktemp("cli")
    (workdir / "pipe.py").write_text(PIPE)
    store = workdir / "store"
    run_pipeline(workdir, store, 2, "b1")
    first = dict(_refs(store))
    run_pipeline(workdir, store, 3, "b2")
    return workdir, store, first, dict(_refs(store))


def _refs(store: Path):
    for ref in (store / "refs").rglob("*.ref"):
        yield "/" + str(ref.relative_to(store / "refs"))[: -len(".ref")], ref.read_text().strip()


@pytest.fixture
def store(built, tmp_path):
    """A private copy of the built store (tests may damage or clean it)."""
    _, original, _, _ = built
    copy = tmp_path / "store"
    shutil.copytree(original, copy, symlinks=True)
    return copy


# -------------------------------------------------------------------------------------------------- ls
def test_ls_lists_every_path_with_signature_size_age_and_function(built):
    _, store, _, sigs = built
    rows = ls_rows(dds_cli(store, "ls"))
    assert [r[0] for r in rows] == PATHS
    by_path = {r[0]: r for r in rows}
    assert by_path["/data/raw"][4] == "pipe.raw"
    assert by_path["/data/scaled"][4] == "pipe.scaled"
    assert by_path["/data/total"][4] == "pipe.total"
    for path, row in by_path.items():
        assert sigs[path].startswith(row[1]) and len(row[1]) == 10
        assert row[2].endswith("B") and row[3].endswith("ago")


def test_ls_prefix(built):
    _, store, _, _ = built
    assert [r[0] for r in ls_rows(dds_cli(store, "ls", "/data/s"))] == ["/data/scaled"]
    assert [r[0] for r in ls_rows(dds_cli(store, "ls", "data/t"))] == ["/data/total"]
    assert nothing_matched(dds_cli(store, "ls", "/other"), "under /other")
    assert nothing_matched(dds_cli(store, "ls", "/nonexist"), "under /nonexist")


def test_ls_where_filters_on_run_info_and_metadata(built):
    _, store, _, _ = built
    assert [r[0] for r in ls_rows(dds_cli(store, "ls", "--where", "build=b1"))] == ["/data/raw"]
    assert [r[0] for r in ls_rows(dds_cli(store, "ls", "--where", "build=b2"))] == ["/data/scaled", "/data/total"]
    both = ls_rows(dds_cli(store, "ls", "--where", f"host={socket.gethostname()}", "--where", "build=b2"))
    assert [r[0] for r in both] == ["/data/scaled", "/data/total"]
    assert nothing_matched(dds_cli(store, "ls", "--where", "host=not-this-host", "--where", "build=b2"),
                           "with host=not-this-host build=b2")
    assert [r[0] for r in ls_rows(dds_cli(store, "ls", "--where", "function=pipe.scaled"))] == ["/data/scaled"]
    assert nothing_matched(dds_cli(store, "ls", "--where", "no_such_key=1"), "with no_such_key=1")


def test_ls_where_without_equals_is_a_usage_error(built):
    _, store, _, _ = built
    result = dds_cli(store, "ls", "--where", "build")
    assert result.returncode == 2
    assert "key=value" in result.stderr and "Traceback" not in result.stderr


def test_installed_script_and_dds_dir_environment(built):
    _, store, _, _ = built
    script = Path(sys.executable).with_name("dds")
    if not script.exists():
        pytest.skip("the dds console script is not installed next to this python (pip install -e .)")
    result = subprocess.run([str(script), "ls"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DDS_DIR": str(store)})
    assert [r[0] for r in ls_rows(result)] == PATHS


def test_missing_store_is_a_clear_error(tmp_path):
    result = dds_cli(tmp_path / "nowhere", "ls")
    assert result.returncode == 2
    assert str(tmp_path / "nowhere") in result.stderr and "DDS_DIR" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------------ show
def test_show_metadata_run_info_and_lineage(built):
    _, store, _, sigs = built
    result = dds_cli(store, "show", "/data/total")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "function:   pipe.total" in out and sigs["/data/total"] in out
    assert "build: b2" in out and "codec:" in out
    upstream = out.split("upstream:")[1].split("code:")[0]
    assert "/data/scaled" in upstream and "pipe.total calls pipe.scaled" in upstream
    assert "/data/raw" not in upstream  # only direct upstream: /data/raw is /data/scaled's input

    scaled = dds_cli(store, "show", "/data/scaled").stdout
    upstream = scaled.split("upstream:")[1]
    assert "/data/raw\tdds.load in pipe.scaled" in upstream
    assert f"read {sigs['/data/raw'][:10]}, still current" in upstream

    assert "upstream: (none)" in dds_cli(store, "show", "/data/raw").stdout


def test_show_data_function_is_an_exact_upstream(tmp_path):
    (tmp_path / "dfpipe.py").write_text(textwrap.dedent('''
        import dds

        @dds.data_function("/up")
        def up():
            return 1

        def down():
            return up() + 1
    '''))
    code = "import dds, dfpipe; dds.keep('/down', dfpipe.down)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "DDS_DIR": str(tmp_path / "s")}, timeout=120)
    assert out.returncode == 0, out.stderr
    result = dds_cli(tmp_path / "s", "show", "/down")
    assert "/up\tdata function dfpipe.up called by dfpipe.down" in result.stdout


def test_show_json_is_the_raw_metadata(built):
    _, store, _, sigs = built
    result = dds_cli(store, "show", "/data/scaled", "--json")
    meta = json.loads(result.stdout)
    assert meta["signature"] == sigs["/data/scaled"] and meta["path"] == "/data/scaled"
    assert meta["run"]["build"] == "b2" and "tree" in meta


def test_show_unknown_path_names_it(built):
    _, store, _, _ = built
    result = dds_cli(store, "show", "/data/nope")
    assert result.returncode == 2
    assert "/data/nope" in result.stderr and "dds ls" in result.stderr and "Traceback" not in result.stderr
    relative = dds_cli(store, "show", "relative")  # read as /relative, like `dds ls relative`
    assert relative.returncode == 2 and "Nothing is stored at /relative" in relative.stderr
    bad = dds_cli(store, "show", "data//nope")
    assert bad.returncode == 2 and "'/data//nope'" in bad.stderr and "Traceback" not in bad.stderr


# ---------------------------------------------------------------------------------------------- export
def test_export_json_one_entry_per_path(built):
    _, store, _, sigs = built
    entries = json.loads(dds_cli(store, "export", "--json").stdout)
    assert [e["path"] for e in entries] == PATHS
    assert {e["path"]: e["signature"] for e in entries} == sigs
    assert all(e["run"]["build"] in ("b1", "b2") for e in entries)


def test_export_all_includes_unreferenced_values(built):
    _, store, first, sigs = built
    entries = json.loads(dds_cli(store, "export", "--json", "--all").stdout)
    by_sig = {e["signature"]: e for e in entries}
    assert set(by_sig) == set(first.values()) | set(sigs.values())
    assert by_sig[first["/data/scaled"]]["referenced_by"] == []
    assert by_sig[sigs["/data/scaled"]]["referenced_by"] == ["/data/scaled"]


# -------------------------------------------------------------------------------------------------- gc
def test_gc_deletes_orphans_and_keeps_everything_referenced(built, store):
    _, _, first, sigs = built
    orphans = {first["/data/scaled"], first["/data/total"]}
    assert orphans.isdisjoint(sigs.values()) and first["/data/raw"] == sigs["/data/raw"]
    before = files_of(store)

    dry = dds_cli(store, "gc", "--dry-run", "--grace", "0")
    assert dry.returncode == 0, dry.stderr
    assert files_of(store) == before
    listed = {row[2] for row in ls_rows(dry)[:-1]}
    assert listed == {s[:10] for s in orphans}

    result = dds_cli(store, "gc", "--grace", "0")
    assert result.returncode == 0, result.stderr
    assert "deleted 2 item(s)" in result.stdout
    for sig in orphans:
        assert not (store / "blobs" / sig).exists() and not (store / "meta" / f"{sig}.json").exists()
    for sig in sigs.values():
        assert (store / "blobs" / sig).is_dir() and (store / "meta" / f"{sig}.json").is_file()
    assert load_all(store, PATHS) == VALUES
    assert dds_cli(store, "verify").returncode == 0


def test_gc_leaves_young_orphans_by_default(built, store):
    before = files_of(store)
    result = dds_cli(store, "gc")
    assert result.returncode == 0, result.stderr
    assert files_of(store) == before
    assert "kept 2 unreferenced value(s)" in result.stdout and "--grace 0" in result.stdout


def test_gc_removes_stale_temporaries_but_not_fresh_ones(store):
    tmp = store / "tmp"
    stale, fresh = tmp / ".b-stale", tmp / ".b-fresh"
    for folder in (stale, fresh):
        folder.mkdir(parents=True)
        (folder / "data.pkl").write_bytes(b"x" * 100)
    two_hours_ago = time.time() - 7200
    os.utime(stale / "data.pkl", (two_hours_ago, two_hours_ago))
    os.utime(stale, (two_hours_ago, two_hours_ago))
    stale_file = tmp / ".w-stale"
    stale_file.write_bytes(b"y")
    os.utime(stale_file, (two_hours_ago, two_hours_ago))

    result = dds_cli(store, "gc")
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and not stale_file.exists()
    assert (fresh / "data.pkl").read_bytes() == b"x" * 100
    assert load_all(store, PATHS) == VALUES


# ---------------------------------------------------------------------------------------------- verify
def test_verify_passes_on_a_clean_store(built):
    _, store, _, _ = built
    result = dds_cli(store, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked 3 path(s) and 5 value(s): ok" in result.stdout


def _blob_file(store: Path, sig: str) -> Path:
    meta = json.loads((store / "meta" / f"{sig}.json").read_text())
    return store / "blobs" / sig / meta["file_name"]


def flip_byte(store, sig):
    f = _blob_file(store, sig)
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))


def truncate(store, sig):
    f = _blob_file(store, sig)
    f.write_bytes(f.read_bytes()[:-3])


def remove_meta(store, sig):
    (store / "meta" / f"{sig}.json").unlink()


def garble_meta(store, sig):
    (store / "meta" / f"{sig}.json").write_text('{"codec": "pickle", "fil')


@pytest.mark.parametrize("damage, kind", [
    (flip_byte, "DAMAGED BLOB"),
    (truncate, "DAMAGED BLOB"),
    (remove_meta, "DANGLING REF"),
    (garble_meta, "DAMAGED METADATA"),
])
def test_verify_reports_damage_naming_the_path(built, store, damage, kind):
    _, _, _, sigs = built
    damage(store, sigs["/data/scaled"])
    result = dds_cli(store, "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if not line.startswith(("  ", "note:", "verify:"))]
    assert problems == [problems[0]] and problems[0].startswith(f"{kind}: /data/scaled")
    assert "fix:" in result.stdout and "1 problem(s)" in result.stdout
    assert "Traceback" not in result.stderr


def test_verify_reports_a_dangling_ref(store):
    ref = store / "refs" / "data" / "raw.ref"
    ref.write_text("ab" * 20 + "\n")
    result = dds_cli(store, "verify")
    assert result.returncode == 1
    assert result.stdout.startswith("DANGLING REF: /data/raw") and "ab" * 20 in result.stdout


def test_verify_reports_a_garbled_ref_and_gc_refuses_to_run(store):
    (store / "refs" / "data" / "raw.ref").write_text("not a signature!\n")
    result = dds_cli(store, "verify")
    assert result.returncode == 1 and result.stdout.startswith("DAMAGED REF: /data/raw")
    before = files_of(store)
    gc = dds_cli(store, "gc", "--grace", "0")
    assert gc.returncode == 2 and "/data/raw" in gc.stderr and "Traceback" not in gc.stderr
    assert files_of(store) == before


# ------------------------------------------------------------------------------------------ why, graph
def test_why_explains_a_path(built, store):
    workdir = built[0]
    result = dds_cli(store, "why", "/data/total", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "/data/total" in result.stdout


def test_graph_writes_a_dot_file(built, store, tmp_path):
    workdir = built[0]
    out = tmp_path / "pipe.dot"
    result = dds_cli(store, "graph", "pipe:main", "-o", str(out), cwd=workdir, env={"K": "3", "BUILD": "x"})
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert all(p in text for p in PATHS)


def test_store_given_as_an_fsspec_url(tmp_path):
    code = ("import dds\ndds.set_store('fsspec', url=%r)\n"
            "def answer():\n    return 42\n"
            "dds.keep('/answer', answer)\n") % f"file://{tmp_path}/remote"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=120)
    result = dds_cli(f"file://{tmp_path}/remote", "ls")  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    assert [r[0] for r in ls_rows(result)] == ["/answer"]


def test_ls_of_an_empty_store_says_so_and_succeeds(tmp_path):
    (tmp_path / "empty").mkdir()
    result = dds_cli(tmp_path / "empty", "ls")
    assert result.returncode == 0 and result.stdout == ""
    assert "nothing is stored yet" in result.stderr


# ------------------------------------------------------------------------------- one consistent CLI
STORE_COMMANDS = [  # every command that opens a store, with arguments that make it succeed on `built`
    ("ls",), ("show", "/data/total"), ("cat", "/data/total"), ("why", "/data/total"), ("graph", "pipe:main"),
    ("gc", "--dry-run"), ("verify",), ("export",), ("status", "pipe:main"), ("run", "pipe:main"),
]


def _without_ages(text: str) -> str:
    """``15s ago`` and ``14s ago`` are the same listing a second apart (the two runs straddle a second)."""
    return re.sub(r"\b\d+(?:\.\d+)?\s*[smhd] ago\b", "<age> ago", text)


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=lambda c: c[0])
def test_every_command_accepts_store_after_its_name(built, store, command):
    workdir = built[0]
    env = {"K": "3", "BUILD": "b2", "DDS_DIR": str(workdir / "not-this-one")}
    after = dds_cli(None, *command, "--store", str(store), cwd=workdir, env=env)
    assert after.returncode == 0, (after.stdout, after.stderr)
    before = dds_cli(store, *command, cwd=workdir, env=env)
    assert before.returncode == 0, before.stderr
    if command[0] not in ("run", "status", "gc"):  # those print timings that may differ
        assert _without_ages(after.stdout) == _without_ages(before.stdout)
    assert not (workdir / "not-this-one").exists()


def test_store_after_the_command_wins_over_the_one_before(built, tmp_path):
    _, store, _, _ = built
    (tmp_path / "empty").mkdir()
    result = dds_cli(tmp_path / "empty", "ls", "--store", str(store))
    assert [r[0] for r in ls_rows(result)] == PATHS


@pytest.mark.parametrize("command", ["show", "cat", "why"])
def test_paths_are_accepted_without_the_leading_slash(built, command):
    workdir, store, _, _ = built
    with_slash = dds_cli(store, command, "/data/total", cwd=workdir)
    without = dds_cli(store, command, "data/total", cwd=workdir)
    assert with_slash.returncode == 0 and without.returncode == 0, without.stderr
    # `show` says how long ago the value was stored: the two calls may fall on either side of a second
    assert _without_ages(without.stdout) == _without_ages(with_slash.stdout)
    assert "/data/total" in without.stdout + (command == "cat") * "/data/total"


def test_cat_prints_the_stored_value(built):
    _, store, _, _ = built
    assert dds_cli(store, "cat", "/data/total").stdout == "30\n"
    assert dds_cli(store, "cat", "/data/scaled").stdout == "[0, 3, 6, 9, 12]\n"


def test_cat_prints_text_and_bytes_as_they_are(tmp_path):
    code = ("import dds\ndef text():\n    return 'line 1\\nline 2\\n'\ndef blob():\n    return b'\\x00raw'\n"
            "dds.keep('/text', text)\ndds.keep('/blob', blob)\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=120,
                   env={**os.environ, "DDS_DIR": str(tmp_path / "s")})
    assert dds_cli(tmp_path / "s", "cat", "text").stdout == "line 1\nline 2\n"
    raw = subprocess.run([sys.executable, "-m", "dds.cli", "--store", str(tmp_path / "s"), "cat", "/blob"],
                         capture_output=True, timeout=120)
    assert raw.returncode == 0 and raw.stdout == b"\x00raw"


def test_cat_of_a_missing_path_names_it_and_the_fix(built):
    _, store, _, _ = built
    result = dds_cli(store, "cat", "data/nothing")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Nothing is stored at /data/nothing" in result.stderr and "dds ls" in result.stderr


def test_graph_without_output_prints_dot_with_a_legend(built, store):
    pytest.importorskip("pydotplus")
    workdir = built[0]
    result = dds_cli(store, "graph", "pipe:main", cwd=workdir, env={"K": "3", "BUILD": "x"})
    assert result.returncode == 0, result.stderr
    dot = result.stdout
    assert dot.startswith("digraph") and all(f'"{p}"' in dot for p in PATHS)
    assert "cluster_legend" in dot and "fresh: stored for this code" in dot
    assert "?" not in dot  # no "? · fresh": a signature known only at run time is left out
    if shutil.which("dot"):  # it is valid DOT: Graphviz renders it
        svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60)
        assert svg.returncode == 0 and "<svg" in svg.stdout, svg.stderr


def test_graph_text_names_each_path_and_explains_the_colours(built, store):
    pytest.importorskip("pydotplus")
    workdir = built[0]
    result = dds_cli(store, "graph", "pipe:main", "--text", cwd=workdir, env={"K": "4", "BUILD": "x"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["fresh", "/data/raw"]
    assert any("will run" in line and "/data/scaled" in line for line in lines)
    assert "legend:" in lines and any(line.strip().startswith("will run:") for line in lines)


def test_export_jsonl_is_one_object_a_line_and_json_is_still_accepted(built):
    _, store, _, _ = built
    lines = dds_cli(store, "export", "--jsonl").stdout.splitlines()
    assert [json.loads(line)["path"] for line in lines] == PATHS
    as_list = json.loads(dds_cli(store, "export").stdout)
    assert json.loads(dds_cli(store, "export", "--json").stdout) == as_list
    assert [json.loads(line) for line in lines] == as_list


def test_main_help_starts_with_running_pipelines(built):
    result = dds_cli(None, "--help")
    assert result.returncode == 0
    section = result.stdout.split("Commands:")[1].split("\n\n")[0]
    listed = [line.split()[0] for line in section.strip().splitlines()]
    assert listed[:2] == ["run", "status"], listed
    assert "Run dds pipelines" in result.stdout and "dds run examples.pipeline:main" in result.stdout


@pytest.mark.parametrize("command", [c[0] for c in STORE_COMMANDS])
def test_every_help_ends_with_an_example(command):
    result = dds_cli(None, command, "--help")
    assert result.returncode == 0, result.stderr
    tail = result.stdout.rstrip().split("Example:")
    assert len(tail) == 2, result.stdout
    assert all(line.strip().startswith("dds ") for line in tail[1].strip().splitlines())
    assert "--store" in tail[0], f"dds {command} --help lists no --store option"


def test_ls_in_a_real_terminal_is_an_aligned_table(built):
    """A pseudo-terminal, as a person sees it: a bold header and aligned columns (pipes get TSV)."""
    pty = pytest.importorskip("pty")
    _, store, _, _ = built
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: the real `dds` on a terminal
        os.execv(sys.executable, [sys.executable, "-m", "dds.cli", "ls", "--store", str(store)])
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child exited and closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    text = out.decode().replace("\r\n", "\n")
    assert "\x1b[1m" in text  # the bold header
    plain = [line for line in text.replace("\x1b[1m", "").replace("\x1b[0m", "").splitlines() if line]
    assert plain[0].split() == ["PATH", "SIGNATURE", "SIZE", "AGE", "FUNCTION"]
    assert [line.split()[0] for line in plain[1:]] == PATHS
    column = plain[0].index("SIGNATURE")
    assert all(line[column - 2:column] == "  " and line[column] != " " for line in plain[1:])
