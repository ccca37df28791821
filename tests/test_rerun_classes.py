"""Edit-and-rerun: classes read by a data function are part of its signature (body, methods, class
attributes, bases), and a class read only by another data function is not.
"""

from __future__ import annotations

import pytest

try:
    from .rerun_harness import check_edit
except ImportError:  # tests/ is not a package
    from rerun_harness import check_edit

pytestmark = pytest.mark.rerun

MAIN = "pipe/main.py"
BASE = "pipe/base.py"
MODEL = "pipe/model.py"

FILES = {
    BASE: """
        class Base:
            prefix = "base-"

            def describe(self):
                return self.prefix + self.name()

            def name(self):
                return "base"
    """,
    MODEL: """
        from dataclasses import dataclass

        from pipe.base import Base


        def _bump(v):
            return v + 0.5


        class Model(Base):
            factor = 3

            def __init__(self, x):
                self.x = x

            def scaled(self):
                return _bump(self.x * self.factor)

            @staticmethod
            def offset():
                return 10

            @classmethod
            def make(cls, x):
                return cls(x + 1)

            @property
            def doubled(self):
                return self.x * 2

            def name(self):
                return "model"

            def unused(self):
                return "unused"


        @dataclass
        class Params:
            n: int = 3
            label: str = "p"


        class Other:
            def value(self):
                return 42
    """,
    MAIN: """
        import dds
        from pipe import model
        from pipe.model import Model, Other
        from pipe._trace import trace


        def a():
            trace("a")
            m = Model.make(1)
            return [m.scaled(), Model.offset(), m.doubled, m.describe()]


        def b():
            trace("b")
            return Other().value()


        def c():
            trace("c")
            p = model.Params()
            return [p.n, p.label]


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b), dds.keep("/c", c)]
    """,
}

CLASS_EDITS = [
    ("method-body", MODEL, "return _bump(self.x * self.factor)", "return _bump(self.x * self.factor + 1)", {"a"}),
    ("class-attribute", MODEL, "    factor = 3\n", "    factor = 4\n", {"a"}),
    ("inherited-method-in-base-module", BASE, "return self.prefix + self.name()", "return self.name() + self.prefix", {"a"}),
    ("base-class-attribute", BASE, 'prefix = "base-"', 'prefix = "BASE-"', {"a"}),
    ("overridden-method-called-from-base", MODEL, 'return "model"', 'return "MODEL"', {"a"}),
    ("staticmethod-body", MODEL, "return 10", "return 11", {"a"}),
    ("classmethod-body", MODEL, "return cls(x + 1)", "return cls(x + 2)", {"a"}),
    ("property-getter", MODEL, "return self.x * 2", "return self.x * 5", {"a"}),
    ("init-body", MODEL, "self.x = x\n", "self.x = x * 10\n", {"a"}),
    ("helper-called-by-method", MODEL, "return v + 0.5", "return v + 0.25", {"a"}),
    ("other-class-method", MODEL, "return 42", "return 43", {"b"}),
    ("dataclass-field-default", MODEL, "n: int = 3", "n: int = 4", {"c"}),
    ("dataclass-second-field-default", MODEL, 'label: str = "p"', 'label: str = "q"', {"c"}),
    (
        "override-added-in-subclass",
        MODEL,
        '    def name(self):\n        return "model"\n',
        '    def name(self):\n        return "model"\n\n    def describe(self):\n        return "own"\n',
        {"a"},
    ),
]


@pytest.mark.parametrize(
    "rel, old, new, reran",
    [pytest.param(rel, old, new, reran, id=name) for name, rel, old, new, reran in CLASS_EDITS],
)
def test_class_edit(tmp_path, rel, old, new, reran):
    check_edit(tmp_path, FILES, (rel, old, new), reran=reran)


def test_unused_method_of_a_used_class_reruns(tmp_path):
    """DESIGN §2: "a class's sig covers its body, methods and class attributes" — a method may be reached
    dynamically (getattr, a subclass, a caller), so editing any method of a class a data function reads
    re-runs it, even when, as here, the value does not change."""
    check_edit(
        tmp_path, FILES, (MODEL, 'return "unused"', 'return "still unused"'), reran={"a"}, value_changes=False
    )


def test_class_defined_in_the_main_module(tmp_path):
    files = {
        MAIN: """
            import dds
            from pipe._trace import trace


            class Acc:
                start = 1

                def add(self, xs):
                    total = self.start
                    for x in xs:
                        total += x
                    return total


            class Unrelated:
                def f(self):
                    return 0


            def a():
                trace("a")
                return Acc().add([1, 2, 3])


            def b():
                trace("b")
                return Unrelated().f()


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (MAIN, "total += x", "total += 2 * x"), reran={"a"})


TYPED = {
    "pipe/kinds.py": """
        import enum
        from typing import NamedTuple


        class Color(enum.Enum):
            RED = 1
            GREEN = 2


        class Point(NamedTuple):
            x: int = 0
            y: int = 5


        class Plain:
            k = 1
    """,
    MAIN: """
        import dds
        from pipe.kinds import Color, Plain, Point
        from pipe._trace import trace


        def a():
            trace("a")
            return [Color.GREEN.value, Color(1).name]


        def b():
            trace("b")
            p = Point()
            return [p.x, p.y]


        def c():
            trace("c")
            return Plain.k


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b), dds.keep("/c", c)]
    """,
}


@pytest.mark.parametrize(
    "old, new, reran",
    [
        pytest.param("GREEN = 2", "GREEN = 3", {"a"}, id="enum-member-value"),
        pytest.param("RED = 1", "CRIMSON = 1", {"a"}, id="enum-member-renamed"),
        pytest.param("y: int = 5", "y: int = 6", {"b"}, id="namedtuple-field-default"),
        pytest.param("    k = 1\n", "    k = 2\n", {"c"}, id="plain-class-attribute-next-to-them"),
    ],
)
def test_enum_and_namedtuple(tmp_path, old, new, reran):
    check_edit(tmp_path, TYPED, ("pipe/kinds.py", old, new), reran=reran)


MORE = {
    "pipe/shapes.py": """
        SCALE = 2
        FACTOR = 10


        class Shape:
            def area(self):
                return 1


        class Square(Shape):
            side = FACTOR

            def area(self):
                return super().area() + self.side * SCALE


        class Unrelated:
            def area(self):
                return 0
    """,
    MAIN: """
        import dds
        from pipe.shapes import Square, Unrelated
        from pipe._trace import trace


        def a():
            trace("a")
            return Square().area()


        def b():
            trace("b")
            return Unrelated().area()


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b)]
    """,
}


@pytest.mark.parametrize(
    "old, new",
    [
        pytest.param("return 1\n", "return 100\n", id="base-method-reached-through-super"),
        pytest.param("SCALE = 2", "SCALE = 3", id="module-global-read-by-a-method"),
        pytest.param("FACTOR = 10", "FACTOR = 11", id="module-global-read-by-the-class-body"),
    ],
)
def test_class_reads_through_super_and_globals(tmp_path, old, new):
    check_edit(tmp_path, MORE, ("pipe/shapes.py", old, new), reran={"a"})
