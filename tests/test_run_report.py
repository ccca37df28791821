"""How ``dds run`` attributes failures and durations to steps (dds/pipeline/runner.py), in one process.

The end-to-end behaviour (subprocesses, S3, JUnit) is in test_ci_pipeline.py; these cases cover the
failure shapes a pipeline can take: a step kept inside another step's function raising, and a pipeline
that catches a step's exception itself.
"""

import pytest

import dds
from dds.pipeline.runner import run_pipeline, use_store
from dds.pipeline.report import FAILED, LOADED, RAN, SKIPPED
from dds.store import create_store


def _ok(x):
    return x + 1


def _boom(x):
    raise ValueError(f"bad input {x}")


def _outer():
    return dds.keep("/r/inner", _boom, 1) + 1  # a step kept inside another step's function


def nested_pipeline():
    a = dds.keep("/r/a", _ok, 1)
    b = dds.keep("/r/outer", _outer)
    return dds.keep("/r/after", _ok, b)


def catching_pipeline():
    a = dds.keep("/r/a", _ok, 1)
    try:
        dds.keep("/r/bad", _boom, a)
    except ValueError:  # what _boom raises, as itself
        pass
    return dds.keep("/r/after", _ok, a)


@pytest.fixture
def store(tmp_path):
    store = create_store("local", internal_dir=str(tmp_path / "store"))
    use_store(store)
    return store


def outcomes(report):
    return {s.path: s for s in report.steps}


def test_a_failing_nested_step_fails_itself_and_the_step_running_it(store):
    report = run_pipeline("tests:nested_pipeline", nested_pipeline, store, "store")
    steps = outcomes(report)
    assert steps["/r/a"].outcome == RAN and steps["/r/a"].duration_s is not None
    assert steps["/r/inner"].outcome == FAILED
    assert steps["/r/inner"].error_type == "ValueError" and "bad input 1" in steps["/r/inner"].error
    assert steps["/r/outer"].outcome == FAILED
    assert steps["/r/outer"].error.startswith("step /r/inner, kept while computing /r/outer, failed")
    assert steps["/r/after"].outcome == SKIPPED and "/r/inner failed" in steps["/r/after"].error
    assert not report.ok and report.error is None  # attributed to steps, not to the pipeline
    assert report.failed_first == "/r/inner"
    assert steps["/r/inner"].duration_s is not None and steps["/r/outer"].duration_s is not None
    assert dds.load("/r/a") == 2  # what finished stays stored

    again = outcomes(run_pipeline("tests:nested_pipeline", nested_pipeline, store, "store"))
    assert again["/r/a"].outcome == LOADED and again["/r/inner"].outcome == FAILED


def test_a_step_whose_exception_the_pipeline_catches_is_still_failed(store):
    report = run_pipeline("tests:catching_pipeline", catching_pipeline, store, "store")
    steps = outcomes(report)
    assert steps["/r/bad"].outcome == FAILED
    assert "the pipeline caught the exception" in steps["/r/bad"].error
    assert steps["/r/a"].outcome == RAN and steps["/r/after"].outcome == RAN
    assert not report.ok
