"""dds.why names the exact dependency that changed, for each kind of edit, in fresh processes."""

import pytest

from pipeline_project import Project

FILES = {
    "proj/consts.py": '''
        SCALE = 3
        NAME = "alpha"
    ''',
    "proj/util.py": '''
        import functools

        from proj import consts


        def scale(x):
            return x * consts.SCALE


        def deep(x):
            return x + 1


        def helper(x):
            return deep(x) * 2


        class Model:
            BIAS = 1

            def predict(self, x):
                return x + self.BIAS


        def make_adder(n):
            def add(x):
                return x + n
            return add


        add_two = make_adder(2)
        ROUTES = {"double": lambda x: x * 2}
        partial_scale = functools.partial(scale)
    ''',
    "proj/steps.py": '''
        import dds
        from proj import consts
        from proj.util import Model, ROUTES, add_two, helper, scale


        def fit(n, offset=0):
            return [scale(i) + helper(i) + Model().predict(i) + add_two(i) + ROUTES["double"](i) + offset
                    for i in range(n)] + [consts.NAME]


        def summary():
            return len(dds.load("/fit"))


        def pipeline():
            dds.keep("/fit", fit, 4)
            return dds.keep("/summary", summary)
    ''',
}

RUN = '''
    import dds
    from proj.steps import pipeline
    pipeline()
'''
WHY = '''
    import dds
    from proj.steps import pipeline
    dds.eval(pipeline, dds_dont_eval=True)
    print(dds.why({path!r}))
'''


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path, FILES)
    p.python(RUN)
    return p


CASES = [
    # (file, old, new, path, expected fragments of the explanation)
    ("proj/consts.py", "SCALE = 3", "SCALE = 4", "/fit", ["proj.util.scale", "consts.SCALE changed 3 -> 4"]),
    ("proj/consts.py", 'NAME = "alpha"', 'NAME = "beta"', "/fit", ["consts.NAME changed 'alpha' -> 'beta'"]),
    ("proj/util.py", "return x + 1", "return x + 2", "/fit", ["proj.util.helper -> proj.util.deep: code changed"]),
    ("proj/util.py", "return deep(x) * 2", "return deep(x) * 3", "/fit", ["proj.util.helper: code changed"]),
    ("proj/util.py", "BIAS = 1", "BIAS = 5", "/fit", ["proj.util.Model: class attribute BIAS changed 1 -> 5"]),
    ("proj/util.py", "return x + self.BIAS", "return x - self.BIAS", "/fit", ["proj.util.Model: code changed"]),
    ("proj/util.py", "add_two = make_adder(2)", "add_two = make_adder(3)", "/fit", ["make_adder.<locals>.add", "n changed 2 -> 3"]),
    ("proj/util.py", '"double": lambda x: x * 2', '"double": lambda x: x * 4', "/fit", ["<lambda>: code changed"]),
    ("proj/steps.py", "def fit(n, offset=0):", "def fit(n, offset=1):", "/fit", ["proj.steps.fit: default argument values changed"]),
    ("proj/steps.py", 'dds.keep("/fit", fit, 4)', 'dds.keep("/fit", fit, 5)', "/fit", ["/fit: the arguments changed"]),
    ("proj/util.py", "return x + 1", "return x + 2", "/summary", ["upstream /fit"]),
    ("proj/steps.py", "return len(dds.load", "return 1 + len(dds.load", "/summary", ["proj.steps.summary: code changed"]),
]


@pytest.mark.parametrize("file, old, new, path, fragments", CASES, ids=[f"{c[0]}:{c[2]}->{c[3]}" for c in CASES])
def test_why_names_the_changed_dependency(project, file, old, new, path, fragments):
    project.edit(file, old, new)
    text = project.python(WHY.format(path=path)).stdout
    assert text.startswith(path), text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert project.ran() == []


def test_why_of_an_unchanged_path_says_up_to_date(project):
    text = project.python(WHY.format(path="/fit")).stdout
    assert "/fit is up to date" in text


def test_why_after_a_rerun_explains_it_from_stored_history(project):
    project.edit("proj/consts.py", "SCALE = 3", "SCALE = 4")
    project.python(RUN)
    text = project.python('''
        import dds
        print(dds.why("/fit"))
    ''').stdout
    assert "consts.SCALE changed 3 -> 4" in text
