"""dds.eval: the plan (dry run) runs no user code and predicts what runs; graphs parse back; nesting fails."""

import json
import shutil
import xml.etree.ElementTree as ET

import pytest

import dds
from pipeline_project import Project

PIPELINE = {
    "proj/steps.py": '''
        import dds
        from proj._trace import trace

        SCALE = 3


        def raw(n):
            trace("raw")
            return list(range(n))


        def scaled(values):
            trace("scaled")
            return [v * SCALE for v in values]


        @dds.data_function("/total")
        def total():
            trace("total")
            return sum(dds.load("/scaled"))


        def report(t):
            trace("report")
            return f"total={t}"


        def pipeline():
            trace("pipeline")
            values = dds.keep("/raw", raw, 5)
            dds.keep("/scaled", scaled, values)
            t = total()
            return dds.keep("/report", report, t)
    ''',
}

PLAN = '''
    import json, dds
    from proj.steps import pipeline
    plan = dds.eval(pipeline, dds_dont_eval=True, dds_export_graph="plan.dot")
    print(json.dumps({p: [s.status, s.upstream] for p, s in plan.steps.items()}))
'''
RUN = '''
    import dds
    from proj.steps import pipeline
    print(dds.eval(pipeline, dds_export_graph="run.dot"))
'''


def plan(project):
    out = project.python(PLAN)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path, PIPELINE)


def statuses(p):
    return {path: status for path, (status, _) in p.items()}


def test_dry_run_runs_no_user_code_and_predicts_everything_on_an_empty_store(project):
    p = plan(project)
    assert project.ran() == []
    assert statuses(p) == {"/raw": "will run", "/scaled": "will run", "/total": "will run", "/report": "will run"}
    assert p["/scaled"][1] == ["/raw"]
    assert p["/total"][1] == ["/scaled"]
    assert p["/report"][1] == ["/total"]
    assert not project.store.exists() or not any((project.store / "meta").glob("*.json"))


def test_eval_runs_then_everything_is_fresh(project):
    assert project.python(RUN).stdout.strip() == "total=30"
    assert sorted(project.ran()) == ["pipeline", "raw", "report", "scaled", "total"]
    assert set(statuses(plan(project)).values()) == {"fresh"}
    assert project.python(RUN).stdout.strip() == "total=30"
    assert project.ran() == ["pipeline"]  # the glue ran; every step loaded


@pytest.mark.parametrize("edit, will_run", [
    (("SCALE = 3", "SCALE = 4"), {"/scaled", "/total", "/report"}),
    (('return f"total={t}"', 'return f"sum={t}"'), {"/report"}),
    (("dds.keep(\"/raw\", raw, 5)", "dds.keep(\"/raw\", raw, 6)"), {"/raw", "/scaled", "/total", "/report"}),
    (("return sum(dds.load(\"/scaled\"))", "return sum(dds.load(\"/scaled\")) + 1"), {"/total", "/report"}),
])
def test_plan_after_an_edit_names_exactly_what_runs(project, edit, will_run):
    project.python(RUN)
    project.edit("proj/steps.py", *edit)
    p = plan(project)
    assert project.ran() == []
    assert {path for path, s in statuses(p).items() if s == "will run"} == will_run
    assert {path for path, s in statuses(p).items() if s == "fresh"} == set(p) - will_run
    project.python(RUN)
    reran = {"/raw": "raw", "/scaled": "scaled", "/total": "total", "/report": "report"}
    assert set(project.ran()) - {"pipeline"} == {reran[path] for path in will_run}


def _nodes(graph):
    # pydotplus's parser reports a phantom node named "\n" for any graph; it is not in the file
    return [n for n in graph.get_nodes() if n.get_name() not in ("node", "edge", '"\\n"')]


def test_exported_dot_graph_parses_back_with_nodes_edges_and_colours(project):
    pydotplus = pytest.importorskip("pydotplus")
    project.python(RUN)
    graph = pydotplus.graph_from_dot_file(str(project.root / "run.dot"))
    nodes = {n.get_name().strip('"'): n for n in _nodes(graph)}
    edges = {(e.get_source().strip('"'), e.get_destination().strip('"')) for e in graph.get_edges()}
    assert set(nodes) == {"/raw", "/scaled", "/total", "/report"}
    assert edges == {("/raw", "/scaled"), ("/scaled", "/total"), ("/total", "/report")}
    assert "ran" in nodes["/raw"].get("label")
    project.python(RUN)
    graph = pydotplus.graph_from_dot_file(str(project.root / "run.dot"))
    labels = [n.get("label") for n in _nodes(graph)]
    assert all("loaded" in label for label in labels)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_svg_export_renders_every_node(project):
    project.python('''
        import dds
        from proj.steps import pipeline
        dds.eval(pipeline, dds_dont_eval=True, dds_export_graph="plan.svg")
    ''')
    svg = ET.parse(project.root / "plan.svg")
    titles = {el.text for el in svg.iter("{http://www.w3.org/2000/svg}title")}
    assert {"/raw", "/scaled", "/total", "/report", "/raw->/scaled"} <= titles


def test_missing_dot_program_is_a_clear_error(project, monkeypatch):
    out = project.python('''
        import shutil, dds
        shutil.which = lambda name: None
        from proj.steps import pipeline
        try:
            dds.eval(pipeline, dds_dont_eval=True, dds_export_graph="plan.png")
        except dds.DDSError as e:
            print("ERROR", e)
    ''')
    assert "ERROR" in out.stdout and "Graphviz" in out.stdout and ".dot" in out.stdout


def test_eval_inside_eval_is_refused(project):
    project.write("proj/nested.py", '''
        import dds
        from proj.steps import pipeline


        def outer():
            return dds.eval(pipeline)
    ''')
    out = project.python('''
        import dds
        from proj.nested import outer
        try:
            dds.eval(outer)
        except dds.DDSError as e:
            print("ERROR", e)
    ''')
    assert "called while dds.eval(proj.nested.outer) is running" in out.stdout


def test_stages_select_a_prefix_and_bad_stages_are_refused(project):
    out = project.python('''
        import dds
        from proj.steps import pipeline
        plan = dds.eval(pipeline, dds_stages=["analysis", "path_loading"])
        print(type(plan).__name__, sorted(plan.steps))
        try:
            dds.eval(pipeline, dds_stages=["bogus"])
        except dds.DDSError as e:
            print("ERROR", e)
    ''')
    assert "Plan ['/raw', '/report', '/scaled', '/total']" in out.stdout
    assert "ERROR Unknown dds stage 'bogus'" in out.stdout
    assert project.ran() == []


class _Terminal:
    """A stand-in for a terminal's stderr: records what is written, says it is a TTY."""

    def __init__(self, tty):
        self.tty, self.text = tty, ""

    def isatty(self):
        return self.tty

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def _one():
    return 1


def _two():
    return 2


def _in_process_pipeline():
    return dds.keep("/one", _one) + dds.keep("/two", _two)


@pytest.mark.parametrize("tty", [True, False])
def test_progress_is_shown_on_a_terminal_only(monkeypatch, tty):
    import sys

    dds.set_store("memory")
    fake = _Terminal(tty)
    monkeypatch.setattr(sys, "stderr", fake)
    assert dds.eval(_in_process_pipeline) == 3
    assert ("dds" in fake.text and "/2" in fake.text) if tty else fake.text == ""
