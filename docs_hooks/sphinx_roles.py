"""mkdocs hook: Sphinx roles in docstrings (``:class:`dds.pipeline.plan.Plan```) read as code on the API page.

The docstrings are written for ``help()`` and Sphinx alike; mkdocstrings renders the roles literally
(``:class:<code>dds.pipeline.plan.Plan</code>``), so the role's name is dropped and the target kept as code.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj):(<code>[^<]*</code>)")


def on_page_content(html: str, page, config, files, **kwargs) -> str:
    return _ROLE.sub(r"\1", html)
