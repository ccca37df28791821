"""``dds run`` and ``dds status`` end to end, as CI runs them: subprocesses, a real S3 server, real edits.

Every test copies ``examples/ci`` into its own directory (edits never touch the repository) and gets its own
prefix in the bucket of one moto S3 server on 127.0.0.1 (started once for the module). The commands reach
it the way CI reaches an S3-compatible store: ``AWS_ENDPOINT_URL_S3`` plus credentials in the environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "examples" / "ci"
PIPELINE = "ci_pipeline.pipeline:main"
PATHS = ["/ci/sales", "/ci/clean", "/ci/weekly", "/ci/summary", "/ci/report"]
TIMEOUT = 120

# A laptop: calls the pipeline from plain Python against the shared store (argv[1]), then computes it again
# in memory. Prints what each keep did on the shared store, the values stored there and the expected ones.
LAPTOP = '''
import json, sys
import pandas as pd
import dds
from dds import session
from ci_pipeline.pipeline import main

paths = sys.argv[2:]
encode = lambda v: v.to_json(orient="split", date_format="iso") if isinstance(v, pd.DataFrame) else v
done = []
session.observers.append(lambda path, what, sig: done.append([path, what]))
dds.set_store("fsspec", url=sys.argv[1])
main()
stored = {p: encode(dds.load(p)) for p in paths}
session.observers.clear()
dds.set_store("memory")
main()
print(json.dumps({"done": done, "stored": stored, "expected": {p: encode(dds.load(p)) for p in paths}}))
'''

# Starts `dds ...` only once the test opens the gate, so two processes really run at the same moment.
GATED = '''
import os, sys, time
import pandas, s3fs
import dds.cli

gate, ready, args = sys.argv[1], sys.argv[2], sys.argv[3:]
open(ready, "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(gate) and time.monotonic() < deadline:
    time.sleep(0.005)
dds.cli.main(args)
'''

# A pipeline whose second step's argument is computed by plain code: the plan can only say "may run".
GLUE = '''
import os
import dds
from ci_pipeline import steps

WINDOW = 10


def tail_units(rows):
    with open(os.environ["TRACE_FILE"], "a") as f:
        f.write("tail_units\\n")
    return int(rows["units"].sum())


def main():
    sales = dds.keep("/glue/sales", steps.make_sales, 30)
    return dds.keep("/glue/tail", tail_units, sales.tail(WINDOW))
'''


class Checkout:
    """A copy of examples/ci (a CI runner's or a laptop's checkout) and the shared store it points at."""

    def __init__(self, root: Path, s3, url: str) -> None:
        self.root, self.s3, self.url = root, s3, url
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".dds", "*.json", "*.xml"))
        self.trace = root / "trace.txt"

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DDS_", "PYTHON"))}
        env.update(AWS_ENDPOINT_URL_S3=self.s3.endpoint, PYTHONDONTWRITEBYTECODE="1", TRACE_FILE=str(self.trace))
        return env

    def python(self, code: str, *args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-c", code, *args], check=False, cwd=self.root, env=self.env(),
                              capture_output=True, text=True, timeout=TIMEOUT)
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def dds(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dds.cli", *args], check=False, cwd=self.root,
                              env=self.env(), capture_output=True, text=True, timeout=TIMEOUT)

    def run(self, *extra: str, name: str = "run", pipeline: str = PIPELINE, expect: int = 0) -> dict:
        """``dds run PIPELINE --store URL --report NAME.json``; returns the report."""
        report = self.root / f"{name}.json"
        proc = self.dds("run", pipeline, "--store", self.url, "--report", str(report), *extra)
        assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return json.loads(report.read_text())

    def status(self, *extra: str, pipeline: str = PIPELINE) -> tuple[int, dict, str]:
        """``dds --store URL status PIPELINE --report status.json``: (exit status, report, stdout)."""
        report = self.root / "status.json"
        report.unlink(missing_ok=True)
        proc = self.dds("--store", self.url, "status", pipeline, "--report", str(report), *extra)
        assert proc.returncode in (0, 1), f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc.returncode, json.loads(report.read_text()), proc.stdout

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.root / name
        text = path.read_text()
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}"
        path.write_text(text.replace(old, new))
        past = time.time() - 10  # saved a while ago, as a commit checked out by CI would be
        os.utime(path, (past, past))

    def laptop(self, url: str) -> dict:
        """Run the pipeline from this checkout as a laptop would (see LAPTOP); check the values it finds."""
        seen = json.loads(self.python(LAPTOP, url, *PATHS).stdout)
        assert seen["stored"] == seen["expected"], "the shared store holds values the code does not compute"
        return seen


def outcomes(report: dict) -> dict[str, str]:
    return {step["path"]: step["outcome"] for step in report["steps"]}


def stale(report: dict) -> list[str]:
    return [step["path"] for step in report["steps"] if step["outcome"] != "fresh"]


@pytest.fixture
def checkout(tmp_path, s3) -> Checkout:
    return Checkout(tmp_path / "ci", s3, s3.url(f"ci-{uuid.uuid4().hex[:10]}/dds"))


def test_first_run_computes_everything_then_everything_loads_and_a_laptop_reuses_it(checkout, tmp_path, s3):
    dry = checkout.run("--dry-run", name="dry")
    assert outcomes(dry) == {p: "will run" for p in PATHS}
    assert not [k for k in s3.listing() if checkout.url.split("/", 3)[3] in k], "a dry run wrote to the store"
    code, report, _ = checkout.status()
    assert code == 1 and stale(report) == PATHS

    first = checkout.run("--junit", "first.xml")
    assert outcomes(first) == {p: "ran" for p in PATHS}
    assert first["ok"] and first["counts"] == {"ran": 5}
    assert all(s["signature"] and s["duration_s"] is not None and s["why"] for s in first["steps"])
    cases = ET.parse(checkout.root / "first.xml").getroot().findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == PATHS
    assert not any(c.find("failure") is not None or c.find("skipped") is not None for c in cases)

    assert checkout.status()[0] == 0
    second = checkout.run()
    assert outcomes(second) == {p: "loaded" for p in PATHS}
    assert [s["signature"] for s in second["steps"]] == [s["signature"] for s in first["steps"]]

    laptop = Checkout(tmp_path / "laptop", s3, checkout.url)  # another checkout, another absolute path
    assert laptop.laptop(checkout.url)["done"] == [[p, "loaded"] for p in PATHS]


def test_a_source_edit_makes_status_fail_and_run_recomputes_exactly_the_stale_paths(checkout):
    checkout.run()
    assert checkout.status()[0] == 0

    checkout.edit("ci_pipeline/steps.py", "TOP_N = 3 ", "TOP_N = 2 ")
    code, report, stdout = checkout.status()
    assert code == 1
    assert stale(report) == ["/ci/summary", "/ci/report"]
    summary = next(s for s in report["steps"] if s["path"] == "/ci/summary")
    assert "TOP_N changed 3 -> 2" in summary["why"]
    assert "/ci/summary" in stdout and "/ci/report" in stdout and "TOP_N" in stdout

    rerun = checkout.run()
    assert outcomes(rerun) == {"/ci/sales": "loaded", "/ci/clean": "loaded", "/ci/weekly": "loaded",
                               "/ci/summary": "ran", "/ci/report": "ran"}
    assert "TOP_N changed 3 -> 2" in next(s for s in rerun["steps"] if s["path"] == "/ci/summary")["why"]
    assert checkout.status()[0] == 0
    assert checkout.laptop(checkout.url)["done"] == [[p, "loaded"] for p in PATHS]


def test_two_runs_at_once_on_one_store_give_one_consistent_result(checkout):
    gate = checkout.root / "gate"
    ready = [checkout.root / f"ready{i}" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", GATED, str(gate), str(ready[i]), "--store", checkout.url, "run",
                               PIPELINE, "--report", str(checkout.root / f"run{i}.json")],
                              cwd=checkout.root, env=checkout.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for i in range(2)]
    try:
        deadline = time.monotonic() + TIMEOUT
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.touch()
        results = [p.communicate(timeout=TIMEOUT) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, f"{out}\n{err}"
    reports = [json.loads((checkout.root / f"run{i}.json").read_text()) for i in range(2)]
    for path in PATHS:
        seen = [outcomes(r)[path] for r in reports]
        assert set(seen) <= {"ran", "loaded"} and "ran" in seen, (path, seen)
        assert len({next(s["signature"] for s in r["steps"] if s["path"] == path) for r in reports}) == 1

    assert checkout.laptop(checkout.url)["done"] == [[p, "loaded"] for p in PATHS]
    verify = checkout.dds("--store", checkout.url, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    exported = checkout.dds("--store", checkout.url, "export", "--all")
    assert exported.returncode == 0, exported.stderr
    published = sorted((e["path"], e["referenced_by"]) for e in json.loads(exported.stdout))
    assert published == sorted((p, [p]) for p in PATHS), "a path was published twice, or a value is orphaned"


def test_a_failing_step_fails_the_run_in_junit_and_what_finished_stays_stored(checkout):
    broken = '    """Revenue per shop and ISO week."""\n'
    checkout.edit("ci_pipeline/steps.py", broken, broken + '    raise ValueError("bad week")\n')
    report = checkout.run("--junit", "junit.xml", expect=1)
    assert outcomes(report) == {"/ci/sales": "ran", "/ci/clean": "ran", "/ci/weekly": "failed",
                                "/ci/summary": "skipped", "/ci/report": "skipped"}
    assert not report["ok"]
    failed = next(s for s in report["steps"] if s["outcome"] == "failed")
    assert failed["error"] == "ValueError: bad week" and failed["error_type"] == "ValueError"
    assert "steps.py" in failed["traceback"] and "dds/api.py" not in failed["traceback"]

    suite = ET.parse(checkout.root / "junit.xml").getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == PATHS
    assert suite.get("tests") == "5" and suite.get("failures") == "1" and suite.get("skipped") == "2"
    failure = cases["/ci/weekly"].find("failure")
    assert failure is not None and "bad week" in failure.get("message") and failure.get("type") == "ValueError"
    assert all(cases[p].find("skipped") is not None for p in ["/ci/summary", "/ci/report"])
    assert all(len(cases[p]) == 1 for p in ["/ci/sales", "/ci/clean"])  # only <system-out>: passed

    checkout.edit("ci_pipeline/steps.py", broken + '    raise ValueError("bad week")\n', broken)
    fixed = checkout.run()
    assert outcomes(fixed) == {"/ci/sales": "loaded", "/ci/clean": "loaded", "/ci/weekly": "ran",
                               "/ci/summary": "ran", "/ci/report": "ran"}


def test_status_resolves_may_run_without_running_any_step_body(checkout):
    (checkout.root / "glue.py").write_text(textwrap.dedent(GLUE))
    checkout.run(pipeline="glue:main")
    checkout.trace.unlink()

    code, report, _ = checkout.status("--static", pipeline="glue:main")
    assert code == 1 and outcomes(report) == {"/glue/sales": "fresh", "/glue/tail": "may run"}
    code, report, _ = checkout.status(pipeline="glue:main")
    assert code == 0 and stale(report) == []

    checkout.edit("glue.py", "WINDOW = 10", "WINDOW = 12")  # the step's code is unchanged, its argument is not
    code, report, stdout = checkout.status(pipeline="glue:main")
    assert code == 1 and outcomes(report) == {"/glue/sales": "fresh", "/glue/tail": "will run"}
    assert "/glue/tail" in stdout
    assert not checkout.trace.exists(), "dds status ran a step body"
    assert outcomes(checkout.run(pipeline="glue:main")) == {"/glue/sales": "loaded", "/glue/tail": "ran"}


def test_status_and_run_exit_2_when_they_cannot_tell(checkout, s3):
    (checkout.root / "broken_import.py").write_text("raise RuntimeError('boom at import')\n")
    for args, needle in [
        (["--store", checkout.url, "status", "no_such_module:main"], "no_such_module"),
        (["--store", checkout.url, "status", "broken_import:main"], "boom at import"),
        (["--store", checkout.url, "status", "ci_pipeline.pipeline:no_such_function"], "no_such_function"),
        (["status", PIPELINE, "--store", f"s3://missing-{uuid.uuid4().hex[:8]}/dds"], "does not exist"),
        (["run", "no_such_module:main", "--store", checkout.url], "no_such_module"),
    ]:
        proc = checkout.dds(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
