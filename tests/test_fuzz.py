"""Bad input, fuzzed with hypothesis: store paths and value hashing.

* Path parsing: random unicode, separators, ``..``, NUL and other control characters, very long names →
  ``validate_path`` returns the path unchanged or raises ``PathError``, nothing else; a valid path maps to
  files inside the store's roots only.
* Keeping with the local store at fuzzed paths: the call succeeds or raises a ``DDSError``, never another
  exception, and no file appears (or changes) outside the store's two roots (the directories around them
  are snapshotted before and after every example).
* Value hashing: a value and its copy hash alike in processes with different ``PYTHONHASHSEED``; two values
  that differ in type or content (in a canonical, type-aware sense) never hash alike.

``DDS_RELIABILITY_FUZZ`` multiplies the number of examples (1 in CI, 10 for ``make reliability``). 
"""

from __future__ import annotations

import copy
import datetime
import decimal
import fractions
import math
import os
import pickle
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_report import record_figures

import dds
from dds.errors import DDSError, PathError
from dds.paths import validate_path
from dds.signature.values import ValueHasher
from dds.store import LocalStore

SCALE = max(1, int(os.environ.get("DDS_RELIABILITY_FUZZ", "1")))
REPO_ROOT = Path(__file__).resolve().parents[1]
RUN = Counter()  # examples run per test (hypothesis calls the test body once per example)


def fuzz_settings(examples: int):
    return settings(max_examples=examples * SCALE, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    record_figures("fuzz", {**RUN, "scale": SCALE})


# ------------------------------------------------------------------------------------------------ paths
SPECIAL_PARTS = [
    "", ".", "..", "...", " ", "~", "$HOME", "%", "%2E", "%25", ".ref", "a.ref", "a%2Eref", "\x00", "a\x00b", "\\",
    "..\\..", "\n", "\r", "\t", "\x7f", "\x1b[31m", "CON", "nul", "COM1", ".dds-old-x", ".l-x", "blobs", "meta",
    "refs", "tmp", "-", "--help", "a" * 200, "a" * 201, "é" * 100, "é" * 101, "😀" * 50, "😀" * 51, "%" * 66,
    "\ud800", "\udfff", "\u202e", "\ufeff", "a\u0301", "\u00e1", "ǅ", "ﬁ",
]
SEPARATORS = ["/", "//", "\\", "/./", "/../", "\x00", "/ "]
PART = st.one_of(
    st.sampled_from(SPECIAL_PARTS),
    st.text(max_size=24),
    st.text(alphabet=st.sampled_from("./\\%\x00a é😀\ud800:*?\"<>|"), max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=150, max_size=260),
)
PATHS = st.one_of(
    st.builds(lambda lead, parts, sep: lead + sep.join(parts), st.sampled_from(["/", "", "//", "\\", "./", "../", "~/"]),
              st.lists(PART, max_size=6), st.sampled_from(SEPARATORS)),
    st.builds(lambda parts: "/" + "/".join(parts),  # many long names: hundreds to thousands of bytes in all
              st.lists(st.text(alphabet="ab%é", min_size=40, max_size=200), min_size=2, max_size=40)),
    st.text(),
)
NOT_STR = st.one_of(st.none(), st.binary(), st.integers(), st.lists(st.text()))



@fuzz_settings(600)
@given(PATHS)
def test_path_parsing_returns_the_path_or_raises_path_error(path):
    RUN["path_parsing"] += 1
    try:
        out = validate_path(path)
    except PathError as exc:
        assert "/group/name" in str(exc)  # the message shows what a valid path looks like
        RUN["path_parsing_refused"] += 1
        return
    assert out == path and path.startswith("/")
    for part in path[1:].split("/"):
        assert part not in ("", ".", "..") and "\\" not in part
        assert not any(ord(c) < 32 or ord(c) == 127 for c in part)
        assert 0 < len(part.encode("utf-8")) <= 200
    # where the local store would put it: inside its roots, whatever the names
    store = LocalStore(internal_dir="/srv/store", data_dir="/srv/people")
    for where, root in ((store.ref_file(path), "/srv/store/refs/"), (store.data_path(path), "/srv/people/")):
        assert os.path.normpath(where).startswith(root) and os.path.normpath(where) == where
    RUN["path_parsing_valid"] += 1


@fuzz_settings(100)
@given(NOT_STR)
def test_a_path_that_is_not_a_str_is_refused(path):
    RUN["path_not_str"] += 1
    with pytest.raises(PathError, match="not a str"):
        validate_path(path)


@fuzz_settings(300)
@given(st.text())
def test_a_pathlib_path_is_checked_like_its_str(text):
    """pathlib paths are accepted (dds_py's users pass them): the same answer as for the str they spell."""
    RUN["pathlib_path"] += 1
    try:
        expected = validate_path(Path(text).as_posix())
    except PathError:
        with pytest.raises(PathError):
            validate_path(Path(text))
    else:
        assert validate_path(Path(text)) == expected


def echo(text):
    return text


def snapshot(top: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Every entry below ``top`` but inside the folders ``skip``: its kind and size, time or link target."""
    found = {}
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip]
        for name in dirs + files:
            full = os.path.join(folder, name)
            if os.path.islink(full):
                found[full] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                found[full] = ("dir",)
            else:
                st_ = os.stat(full)
                found[full] = ("file", st_.st_size, st_.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def fence(tmp_path_factory):
    """``top/a/b/{store,people,cwd}``: what happens anywhere under ``top`` is seen by the snapshots."""
    top = tmp_path_factory.mktemp("fence")
    base = top / "a" / "b"
    for name in ("store", "people", "cwd", "outside"):
        (base / name).mkdir(parents=True)
    (base / "outside" / "precious.txt").write_text("do not touch")
    (top / "precious.txt").write_text("do not touch")
    previous = dds.session._store
    dds.set_store("local", internal_dir=str(base / "store"), data_dir=str(base / "people"))
    yield top, base
    dds.session._store = previous


@fuzz_settings(150)
@given(path=PATHS)
def test_keeping_at_a_fuzzed_path_writes_inside_the_store_or_raises_a_dds_error(fence, path):
    top, base = fence
    RUN["keep"] += 1
    roots = (str(base / "store") + os.sep, str(base / "people") + os.sep)
    inside = (str(base / "store"), str(base / "people"))  # what happens there is the store's business
    before = snapshot(top, inside)
    cwd = os.getcwd()
    os.chdir(base / "cwd")  # anything written relative to the working directory is seen too
    try:
        value = dds.keep(path, echo, path)
    except DDSError:
        RUN["keep_refused"] += 1
    else:
        assert value == path and dds.load(path) == path
        RUN["keep_stored"] += 1
    finally:
        os.chdir(cwd)
    after = snapshot(top, inside)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    outside = sorted(p for p in changed if not p.startswith(roots))
    assert outside == [], f"keeping {path!r} changed files outside the store: {outside}"


def test_a_path_too_long_for_the_file_system_is_refused_with_a_path_error(fence):
    path = "/" + "/".join(["a" * 200] * 30)
    with pytest.raises(PathError):
        dds.keep(path, echo, "x")


def test_a_group_name_too_long_once_escaped_is_refused_with_a_path_error(fence):
    path = "/" + "%" * 100 + "/x"  # 100 bytes, but 300 once escaped into a folder name under refs/
    with pytest.raises(PathError):
        dds.keep(path, echo, "x")


# ------------------------------------------------------------------------------------------------ values
TIMEZONES = st.sampled_from([None, datetime.timezone.utc,  # noqa: UP017 - Python 3.10
                             datetime.timezone(datetime.timedelta(hours=5, minutes=30))])
HASHABLE_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10 ** 1000), max_value=10 ** 1000),
    st.floats(), st.complex_numbers(), st.text(), st.binary(), st.decimals(allow_nan=False), st.fractions(),
    st.datetimes(timezones=TIMEZONES), st.dates(), st.times(timezones=TIMEZONES), st.timedeltas(), st.uuids(),
    st.sampled_from([0, 1, -1, 0.0, -0.0, 1.0, True, False, "", b"", "0", "1", b"0", decimal.Decimal(1),
                     decimal.Decimal("1.0"), decimal.Decimal("NaN"), decimal.Decimal("-0"), fractions.Fraction(1), 1j, math.inf, -math.inf, math.nan, None, ()]),
)
HASHABLE = st.recursive(HASHABLE_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4).map(tuple),
                                                                  st.frozensets(inner, max_size=4)), max_leaves=8)
VALUES = st.recursive(
    st.one_of(HASHABLE, st.binary().map(bytearray)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(HASHABLE, inner, max_size=4),
        st.sets(HASHABLE, max_size=4),
        st.frozensets(HASHABLE, max_size=4),
    ),
    max_leaves=12,
)


def canon(value):
    """A type-aware canonical form: equal exactly when two values should hash alike (dicts keep their order,
    which code can observe; sets do not; floats compare by bits, so 0.0 and -0.0 differ)."""
    tp = type(value)
    if tp in (list, tuple):
        return (tp.__name__, tuple(canon(v) for v in value))
    if tp is dict:
        return ("dict", tuple((canon(k), canon(v)) for k, v in value.items()))
    if tp in (set, frozenset):
        return (tp.__name__, tuple(sorted(repr(canon(v)) for v in value)))
    if tp is float:
        return ("float", value.hex())
    if tp is complex:
        return ("complex", value.real.hex(), value.imag.hex())
    if tp in (datetime.datetime, datetime.time):
        return (tp.__name__, value.isoformat(), repr(value.tzinfo), value.fold)
    if tp in (decimal.Decimal, fractions.Fraction, datetime.date, datetime.timedelta, uuid.UUID):
        return (tp.__name__, str(value))
    if tp is bytearray:
        return ("bytearray", bytes(value))
    return (tp.__name__, value)  # None, bool, int, str, bytes


def token(value) -> str:
    return ValueHasher(lambda o: None).token(value)


MUTATIONS = [
    ("copy", copy.deepcopy),
    ("pickled", lambda v: pickle.loads(pickle.dumps(v))),
    ("as tuple", lambda v: tuple(v) if isinstance(v, (list, set, frozenset, dict)) else (v,)),
    ("as list", lambda v: list(v) if isinstance(v, (tuple, set, frozenset, dict)) else [v]),
    ("as frozenset", lambda v: frozenset(v) if isinstance(v, (set, list, tuple)) and _hashable(v) else v),
    ("reversed", lambda v: dict(reversed(v.items())) if isinstance(v, dict) else
     type(v)(reversed(v)) if isinstance(v, (list, tuple)) else v),
    ("as float", lambda v: float(v) if type(v) in (int, bool) and abs(v) < 2 ** 1000 else v),
    ("as int", lambda v: int(v) if type(v) in (bool, float) and math.isfinite(v) else v),
    ("as str", lambda v: str(v) if type(v) is not str else v.encode("utf-8", "surrogatepass")),
    ("as repr", repr),
    ("nested", lambda v: [v]),
    ("one more", lambda v: v + type(v)([None]) if type(v) in (list, tuple) else v),
]


def _hashable(items) -> bool:
    try:
        frozenset(items)
        return True
    except TypeError:
        return False


@fuzz_settings(400)
@given(VALUES, st.sampled_from(MUTATIONS))
def test_values_hash_alike_exactly_when_equal_in_type_and_content(value, mutation):
    name, mutate = mutation
    other = mutate(value)
    RUN["hash_pairs"] += 1
    same = canon(value) == canon(other)
    RUN["hash_pairs_equal" if same else "hash_pairs_different"] += 1
    assert (token(value) == token(other)) == same, (name, value, other)


@fuzz_settings(200)
@given(VALUES, VALUES)
def test_unrelated_values_hash_alike_only_when_equal(a, b):
    RUN["hash_pairs"] += 1
    same = canon(a) == canon(b)
    RUN["hash_pairs_equal" if same else "hash_pairs_different"] += 1
    assert (token(a) == token(b)) == same, (a, b)


CHILD = """
import pickle, sys
from dds.signature.values import ValueHasher
values = pickle.load(open(sys.argv[1], "rb"))
hasher = ValueHasher(lambda o: None)
print("\\n".join(hasher.token(v) for v in values))
"""


@fuzz_settings(6)
@given(st.lists(VALUES, min_size=10, max_size=25))
def test_digests_are_identical_in_processes_with_different_hash_seeds(tmp_path_factory, values):
    batch = tmp_path_factory.mktemp("values") / "values.pkl"
    batch.write_bytes(pickle.dumps(values))
    here = [token(v) for v in values]
    RUN["cross_process_batches"] += 1
    for seed in ("0", str(1 + RUN["cross_process_batches"]), "4294967295"):
        env = {"PYTHONHASHSEED": seed, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO_ROOT)}
        out = subprocess.run([sys.executable, "-c", CHILD, str(batch)], check=False, env=env, capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.split() == here, f"digests differ with PYTHONHASHSEED={seed}"
        RUN["cross_process_processes"] += 1
    RUN["cross_process_values"] += len(values)


def test_a_huge_int_is_hashed():
    assert token(10 ** 5000) != token(10 ** 5000 + 1)
