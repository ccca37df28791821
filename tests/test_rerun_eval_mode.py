"""The edit-and-rerun cases of the pipeline, function and callable suites, run through ``dds.eval``.

``dds.eval`` plans before it runs, but the run itself must behave exactly like plain ``keep`` calls: the
same values and the same re-run sets. Importing the test functions re-collects them in this module, where
the fixture below switches the harness's runner to ``dds.eval(entry)``.
"""

import pytest

from test_rerun_callables import *  # noqa: F401,F403 - re-collected in eval mode
from test_rerun_functions import *  # noqa: F401,F403
from test_rerun_pipeline import *  # noqa: F401,F403

pytestmark = pytest.mark.rerun


@pytest.fixture(autouse=True)
def _eval_mode(monkeypatch):
    monkeypatch.setenv("DDS_RERUN_MODE", "eval")
