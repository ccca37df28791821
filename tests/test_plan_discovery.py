"""Planning finds every keep however the code reaches it: through an alias, a module attribute, a data
function named through its module, or helpers that themselves call no dds API (planned from their shape
alone, without walking their AST)."""

from __future__ import annotations

import json

import pytest

from pipeline_project import Project

FILES = {
    "proj/deep/__init__.py": "",
    "proj/deep/leaf.py": '''
        from dds import keep as remember
        import dds as d


        def leaf_value():
            return 4


        def leaf():
            return remember("/leaf", leaf_value)


        @d.data_function("/decorated")
        def decorated():
            return d.load("/leaf") + 1
    ''',
    "proj/middle.py": '''
        import proj.deep.leaf


        def middle():  # calls no dds API itself: its helpers do
            return proj.deep.leaf.leaf() + proj.deep.leaf.decorated()
    ''',
    "proj/steps.py": '''
        import dds
        from proj.middle import middle


        def plain(x):
            return x + 1


        def glue():
            return plain(middle())


        def pipeline():
            total = glue()
            return dds.keep("/top", plain, total)
    ''',
}

PLAN = '''
    import json, dds
    from proj.steps import pipeline
    plan = dds.eval(pipeline, dds_dont_eval=True)
    print(json.dumps({p: [s.status, s.upstream] for p, s in plan.steps.items()}))
'''
RUN = '''
    import dds
    from proj.steps import pipeline
    print(dds.eval(pipeline))
'''


@pytest.mark.parametrize("code_cache", ["on", "off"])
def test_keeps_behind_aliases_modules_and_plain_helpers_are_planned(tmp_path, monkeypatch, code_cache):
    if code_cache == "off":
        monkeypatch.setenv("DDS_CODE_CACHE", "off")
    else:
        monkeypatch.setenv("DDS_CODE_CACHE", str(tmp_path / "cache"))
    project = Project(tmp_path, FILES)
    plan = json.loads(project.python(PLAN).stdout.strip().splitlines()[-1])
    assert plan == {
        "/leaf": ["will run", []],
        "/decorated": ["will run", ["/leaf"]],
        "/top": ["will run", []],
    }
    assert project.python(RUN).stdout.strip() == "11"  # 4 + (4 + 1) + 1 + 1
    second = json.loads(project.python(PLAN).stdout.strip().splitlines()[-1])
    assert {path: status for path, (status, _) in second.items()} == {
        "/leaf": "fresh", "/decorated": "fresh", "/top": "may run"}  # /top: argument computed at run time
