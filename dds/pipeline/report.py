"""What ``dds run`` / ``dds status`` found, per path: a JSON report for scripts and a JUnit file for CI.

One record per path (outcome, signature, duration, why) feeds both files and the console, so a CI log,
a test-report page and a script never disagree. Kept apart from the CLI: building and writing a report
needs no terminal and no click.
"""

from __future__ import annotations

import json
import os
import socket
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from typing import Any

from .status import AFTER_RUN, FAILED, FRESH, LOADED, MAY_RUN, PLANNED, RAN, SKIPPED, WILL_RUN

__all__ = ["RunReport", "StepReport", "write_json", "write_junit", "OUTCOMES", "SCHEMA", "FAILED", "FRESH", "LOADED",
           "MAY_RUN", "RAN", "SKIPPED", "WILL_RUN"]  # the statuses are the report's vocabulary (pipeline/status.py)

SCHEMA = "dds-run-report/1"
OUTCOMES = (*AFTER_RUN, *PLANNED)


@dataclass
class StepReport:
    """One path of the pipeline and what happened to it (or, in a plan, what would)."""

    path: str
    function: str
    outcome: str
    signature: str | None = None
    duration_s: float | None = None  # time attributed to the step (see docs/ci.md); None in a plan
    planned: str | None = None  # the plan's status before running: fresh / will run / may run
    reason: str = ""  # the plan's short reason, e.g. "upstream /a will run"
    why: str | None = None  # dds's explanation (steps that ran, failed, or would run)
    error: str | None = None  # failed: the exception; skipped: why it did not run
    error_type: str | None = None  # failed: the class name of the exception the step's code raised
    traceback: str | None = None  # failed: its traceback, from the first frame outside dds
    upstream: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    """Every path of one ``dds run`` (or ``dds status``), plus an error not attributable to any path."""

    command: str  # "run", "run --dry-run" or "status"
    pipeline: str
    store: str
    started_at: str
    duration_s: float
    steps: list[StepReport] = field(default_factory=list)
    error: str | None = None  # the pipeline failed outside every step (its own code, or before any keep)
    error_type: str | None = None
    traceback: str | None = None
    failed_first: str | None = None  # the path whose function raised first (steps running it failed after)

    @property
    def ok(self) -> bool:
        return self.error is None and not any(s.outcome == FAILED for s in self.steps)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.outcome] = counts.get(step.outcome, 0) + 1
        return counts

    def paths(self, *outcomes: str) -> list[str]:
        return [s.path for s in self.steps if s.outcome in outcomes]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "command": self.command, "pipeline": self.pipeline, "store": self.store,
                "ok": self.ok, "started_at": self.started_at, "duration_s": round(self.duration_s, 6),
                "counts": self.counts(), "error": self.error, "error_type": self.error_type,
                "traceback": self.traceback, "failed_first": self.failed_first,
                "steps": [asdict(s) for s in self.steps]}


def write_json(report: RunReport, filename: str) -> None:
    """The report as JSON (schema in docs/ci.md), replaced whole so a reader never sees half of it."""
    _write(filename, json.dumps(report.to_dict(), indent=1).encode("utf-8") + b"\n")


def to_junit(report: RunReport) -> ET.Element:
    """One ``<testcase>`` per path (classname: the pipeline), so CI shows each step as a test.

    failed -> ``<failure>``; skipped (not run because an earlier step failed) -> ``<skipped>``; a failure
    outside every step is one more test case, named after the pipeline, with an ``<error>``.
    """
    classname = report.pipeline.replace(":", ".")
    suite = ET.Element("testsuite", name=f"dds {report.command} {report.pipeline}", timestamp=report.started_at,
                       hostname=socket.gethostname())
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="store", value=report.store)
    for step in report.steps:
        case = ET.SubElement(suite, "testcase", classname=classname, name=step.path,
                             time=f"{step.duration_s or 0.0:.6f}")
        if step.outcome == FAILED:
            failure = ET.SubElement(case, "failure", message=_first_line(step.error),
                                    type=step.error_type or "Exception")
            failure.text = step.traceback or step.error or ""
        elif step.outcome == SKIPPED:
            ET.SubElement(case, "skipped", message=step.error or "not run")
        ET.SubElement(case, "system-out").text = _summary(step)
    if report.error is not None:
        case = ET.SubElement(suite, "testcase", classname=classname, name=report.pipeline, time="0")
        error = ET.SubElement(case, "error", message=_first_line(report.error),
                              type=report.error_type or "Exception")
        error.text = report.traceback or report.error
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
    suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    suite.set("time", f"{report.duration_s:.6f}")
    root = ET.Element("testsuites", name="dds", **{k: suite.get(k) for k in ("tests", "failures", "errors",
                                                                               "skipped", "time")})
    root.append(suite)
    return root


def write_junit(report: RunReport, filename: str) -> None:
    root = to_junit(report)
    ET.indent(root)
    _write(filename, ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


def _summary(step: StepReport) -> str:
    lines = [f"{step.outcome} {step.path} ({step.function})"]
    if step.signature:
        lines.append(f"signature: {step.signature}")
    if step.reason:
        lines.append(f"planned: {step.planned} ({step.reason})")
    if step.why:
        lines.append(step.why)
    return "\n".join(lines)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:500] if (text or "").strip() else "failed"


def _write(filename: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(filename))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(filename)}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, filename)
