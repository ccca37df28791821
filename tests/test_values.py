"""Unit tests of value hashing: type-aware, order rules, and identical across processes."""

import subprocess
import sys
from collections import OrderedDict, namedtuple
from pathlib import Path

import pytest

from dds.errors import UnhashableValueError
from dds.signature.values import ValueHasher, register_hasher

ROOT = Path(__file__).resolve().parents[1]


def token(value):
    return ValueHasher(lambda obj: None).token(value)


def test_equal_python_values_of_different_types_differ():
    values = [1, 1.0, True, "1", b"1", (1,), [1], {1}, frozenset({1}), None, 0, False, 0.0, -0.0, 1 + 0j]
    tokens = [token(v) for v in values]
    assert len(set(tokens)) == len(values)


def test_big_ints_and_floats_are_exact():
    assert token(2**64 + 1) != token(2**64 + 2)
    assert token(0.1 + 0.2) != token(0.3)


def test_containers_nest_and_keep_order_where_code_can_see_it():
    assert token([1, 2]) != token([2, 1])
    assert token({"a": 1, "b": 2}) != token({"b": 2, "a": 1})  # iteration order is observable
    assert token({3, 1, 2}) == token({1, 2, 3})
    assert token({"x": [1, (2, {3})]}) == token({"x": [1, (2, {3})]})
    assert token({"x": [1, (2, {3})]}) != token({"x": [1, (2, {4})]})


def test_container_subclasses_are_distinguished():
    Point = namedtuple("Point", "x y")
    assert token(Point(1, 2)) != token((1, 2))
    assert token(OrderedDict(a=1)) != token({"a": 1})


def test_unknown_objects_raise_a_clear_error():
    class Opaque:
        pass

    with pytest.raises(UnhashableValueError, match="register_hasher"):
        token(Opaque())


def test_registered_hasher_is_used_and_type_is_part_of_the_digest():
    class Money:
        def __init__(self, cents):
            self.cents = cents

    register_hasher(Money, lambda m: m.cents)
    assert token(Money(5)) == token(Money(5))
    assert token(Money(5)) != token(Money(6))
    assert token(Money(5)) != token(5)


def test_self_containing_container_is_refused():
    loop = []
    loop.append(loop)
    with pytest.raises(UnhashableValueError, match="contains itself"):
        token(loop)


def test_numpy_and_pandas_values():
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    a = np.arange(6, dtype="int64")
    assert token(a) == token(a.copy())
    assert token(a) != token(a.astype("int32"))
    assert token(a) != token(a.reshape(2, 3))
    df = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    assert token(df) == token(df.copy())
    assert token(df) != token(df.assign(x=[1, 3]))
    assert token(df) != token(df.astype({"x": "float64"}))
    assert token(df) != token(df.set_index(pd.Index([5, 6])))


SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from dds.signature.values import ValueHasher
v = {{"s": {{"a", "b", "c", "d"}}, "f": frozenset({{"x", "y"}}), "t": ("k", 1.5, None), "b": b"z"}}
print(ValueHasher(lambda o: None).token(v))
"""


def test_digests_are_identical_across_processes_with_different_hash_seeds():
    outs = set()
    for seed in ("1", "2", "3"):
        env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}
        out = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(ROOT))], env=env,
                             capture_output=True, text=True, check=True)
        outs.add(out.stdout.strip())
    assert len(outs) == 1
