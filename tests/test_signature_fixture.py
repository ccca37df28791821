"""Recorded signatures: a refactor must leave the signature of unchanged code byte-identical.

tests/fixtures/signature_cases.py holds one small case per signature rule; signatures.json the signature
each had when recorded, with the scheme version. A deliberate change of the scheme bumps
``dds.signature.SCHEME`` and re-records with ``DDS_RECORD_SIGNATURES=1``: stores written by the old scheme
then compute every value once more (docs/signatures.md, "Signature scheme versions").
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from dds.signature import SCHEME, SignatureBuilder

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = FIXTURES / "signatures.json"


@pytest.fixture(scope="module")
def cases():
    sys.path.insert(0, str(FIXTURES))
    try:
        import signature_cases
    finally:
        sys.path.remove(str(FIXTURES))
    return signature_cases.CASES


def _signatures(cases) -> dict[str, str]:
    stored = {"/fixture/upstream": "0" * 40}
    out = {}
    for path, fn, args, kwargs in cases:
        builder = SignatureBuilder(load_sig=stored.get)  # no memo, no store: the scheme alone
        out[path] = builder.call_signature(path, fn, args, kwargs).sig
    return out


def test_signatures_of_unchanged_code_are_as_recorded(cases):
    now = _signatures(cases)
    if os.environ.get("DDS_RECORD_SIGNATURES") == "1":
        RECORDED.write_text(json.dumps({"scheme": SCHEME, "signatures": now}, indent=2) + "\n", encoding="utf-8")
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert recorded["scheme"] == SCHEME, (
        f"the scheme is {SCHEME} but signatures were recorded under {recorded['scheme']}: re-record them "
        "(DDS_RECORD_SIGNATURES=1) in the commit that bumps the scheme"
    )
    changed = {p: (recorded["signatures"].get(p), s) for p, s in now.items() if recorded["signatures"].get(p) != s}
    assert not changed, (
        f"signatures of unchanged code changed under the same scheme {SCHEME}: {changed}. A refactor must "
        "keep them byte-identical; a deliberate change bumps SCHEME and re-records."
    )


def test_signatures_do_not_depend_on_the_hash_seed(cases, tmp_path):
    """The same cases in a process with another PYTHONHASHSEED give the same signatures."""
    import subprocess

    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
        "import test_signature_fixture as t, signature_cases as c; print(json.dumps(t._signatures(c.CASES)))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", script, str(FIXTURES), str(Path(__file__).parent)],
                         capture_output=True, text=True, env=env, check=True, cwd=tmp_path).stdout
    assert json.loads(out.strip().splitlines()[-1]) == _signatures(cases)
