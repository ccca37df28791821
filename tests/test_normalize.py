"""Unit tests of AST normalisation: what changes the digest, what does not, and which names are free."""

import ast
import textwrap

import pytest

from dds.signature.normalize import code_shape


def shape(src: str, keep_decorators: bool = False):
    node = ast.parse(textwrap.dedent(src)).body[0]
    return code_shape(node, keep_decorators=keep_decorators)


BASE = '''
def f(a, b=2):
    """Doc."""
    total = a + b  # comment
    for item in range(total):
        total += helper(item)
    return total
'''

SAME = {
    "comment": BASE.replace("# comment", "# another comment"),
    "docstring changed": BASE.replace('"""Doc."""', '"""Another doc."""'),
    "docstring removed": BASE.replace('    """Doc."""\n', ""),
    "local renamed": BASE.replace("total", "acc"),
    "loop variable renamed": BASE.replace("item", "i"),
    "parameter renamed": BASE.replace("(a, b=2)", "(x, b=2)").replace("a + b", "x + b"),
    "reformatted": BASE.replace("total = a + b", "total = (\n        a\n        + b\n    )"),
    "lines shifted": "\n\n\n" + BASE,
}
DIFFERENT = {
    "body": BASE.replace("a + b", "a - b"),
    "default": BASE.replace("b=2", "b=3"),
    "default type": BASE.replace("b=2", "b=2.0"),
    "global renamed": BASE.replace("helper", "other_helper"),
    "constant": BASE.replace("range(total)", "range(total + 1)"),
    "string constant": BASE.replace('return total', 'return total, "x"'),
}


@pytest.mark.parametrize("name", sorted(SAME))
def test_behaviour_preserving_edits_keep_the_digest(name):
    assert shape(SAME[name]).ast_digest == shape(BASE).ast_digest


@pytest.mark.parametrize("name", sorted(DIFFERENT))
def test_behaviour_changing_edits_change_the_digest(name):
    assert shape(DIFFERENT[name]).ast_digest != shape(BASE).ast_digest


def test_free_names_exclude_locals_and_include_attribute_chains():
    s = shape('''
    def f(x):
        y = util.helper(x) + cfg.a.b
        z = [y for y in range(3)]
        def inner(q):
            return q + y + GLOBAL
        return inner(len(z))
    ''')
    assert list(s.free) == [("util", ("helper",)), ("cfg", ("a", "b")), ("range", ()), ("GLOBAL", ()), ("len", ())]


def test_global_statement_makes_the_name_free():
    s = shape('''
    def f():
        global COUNT
        return COUNT + 1
    ''')
    assert ("COUNT", ()) in s.free


def test_class_scope_is_not_visible_from_methods():
    s = shape('''
    class C:
        X = 1
        Y = X + 1
        def m(self):
            return X
    ''', keep_decorators=True)
    assert list(s.free) == [("X", ())]  # only the method's X is free; the class body's X is the attribute


def test_class_attribute_names_are_not_normalised_away():
    a = shape("class C:\n    X = 1\n    def m(self):\n        return self.X\n", keep_decorators=True)
    b = shape("class C:\n    Y = 1\n    def m(self):\n        return self.X\n", keep_decorators=True)
    assert a.ast_digest != b.ast_digest


def test_imports_inside_the_function_are_dependencies():
    s = shape('''
    def f():
        import pipe.util as u
        from .consts import SCALE
        return u.helper(SCALE)
    ''')
    targets = {s.imports[name].module + ":" + str(s.imports[name].attr) for name, _ in s.import_uses}
    assert targets == {"pipe.util:None", "consts:SCALE"}
    assert [chain for _, chain in s.import_uses] == [("helper",), ()]


def test_literal_paths_of_calls_are_recorded():
    s = shape('''
    def f():
        return dds.load("/a/b") + load("/c")
    ''')
    assert list(s.literal_calls) == [("dds", ("load",), "/a/b"), ("load", (), "/c")]


def test_decorators_of_the_hashed_function_are_ignored_but_class_decorators_count():
    assert shape("@a\ndef f():\n    return 1\n").ast_digest == shape("@b\ndef f():\n    return 1\n").ast_digest
    assert shape("@a\nclass C:\n    pass\n", True).ast_digest != shape("@b\nclass C:\n    pass\n", True).ast_digest


def test_lambda_free_names():
    lam = ast.parse("lambda x: x + K").body[0].value
    assert list(code_shape(lam, keep_decorators=False).free) == [("K", ())]


def test_walrus_in_comprehension_binds_in_the_function():
    s = shape("def f(xs):\n    [(last := x) for x in xs]\n    return last\n")
    assert list(s.free) == []
