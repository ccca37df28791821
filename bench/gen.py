"""Generated user code for the benchmarks: real modules on disk, so fresh processes import real files.

Everything here is plain text generation (stdlib only). ``generate(root)`` writes every package the
benchmarks use under ``root`` (put ``root`` on ``PYTHONPATH``):

* ``bw/``     warm hits: ``trivial.trivial`` and ``deps.target`` (reaches 20 helpers and 10 constants);
* ``pipe/``, ``pipeu/``   a 50-step pipeline; ``pipeu`` is the same plus 1,000 unused functions
  (500 in ``steps.py``, 500 in ``helpers.py``). ``main_dds`` keeps each step with ``dds.keep``
  (dds and dds_py share it), ``main_ck`` with checkpointer;
* ``sigc/``   ``chain_N`` (h0 -> h1 -> ... -> h{N-1}) and ``tree_N`` (h_i -> h_{2i+1}, h_{2i+2}) for
  N = 10, 100, 1000, plus ``warm`` (a trivial function to warm up the store before timing);
* ``bigsrc.py``   holds the large frame of the store benchmark (rejected by dds: hashed by name), and
  ``bigfn.produce`` returns it (the kept function).
"""

from __future__ import annotations

import os
import textwrap

STEPS = 50
UNUSED = 1000
SIG_SIZES = (10, 100, 1000)

# Ten constants of the usual kinds, mutable lists and a dict among them (the case where a cache must
# re-validate what it read). Only types dds_py can hash (it refuses bytes and sets), so every peer runs it.
CONSTANTS = [
    "3",
    "2.5",
    "'abc'",
    "(1, 2, 3)",
    "[4, 5, 6]",
    "{'a': 1, 'b': 2}",
    "((1, 'x'), (2, 'y'))",
    "True",
    "None",
    "[{'k': [1, 2]}, {'k': [3]}]",
]


def _write(root: str, rel: str, text: str) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(textwrap.dedent(text).lstrip("\n"))


def warm_modules() -> dict[str, str]:
    deps = ["# 10 constants and 20 helpers, all reached by target()\n"
            + "\n".join(f"C{i} = {value}" for i, value in enumerate(CONSTANTS)) + "\n"]
    for i in range(20):
        # a binary tree of helpers (h_i calls h_{2i+1} and h_{2i+2}): each reached once, no cycle (dds_py
        # refuses cycles, and walks shared helpers once per path)
        kids = "".join(f" + h{k}(x)" for k in (2 * i + 1, 2 * i + 2) if k < 20)
        deps.append(f"def h{i}(x):\n    return x + len(repr(C{i % 10})){kids}\n")
    deps.append("def target():\n    return h0(1)\n")
    return {
        "bw/__init__.py": "",
        "bw/trivial.py": "def trivial():\n    return 1\n",
        # the same hit when the function logs into a module-level list (write-only: not an input)
        "bw/logged.py": "RAN = []\n\n\ndef logged():\n    RAN.append('logged')\n    return 1\n",
        "bw/deps.py": "\n\n".join(deps),
    }


def _unused(prefix: str, count: int) -> str:
    out = []
    for i in range(count):
        out.append(
            f"def {prefix}{i}(x, y=2):\n"
            f"    total = 0\n"
            f"    for k in range(x):\n"
            f"        total += k * y + {i}\n"
            f"    return total\n"
        )
    return "\n\n".join(out)


def pipeline_modules(pkg: str, unused: int, logging: bool = False) -> dict[str, str]:
    """The 50-step pipeline; ``logging``: every step also appends its name to a list in the helper module."""
    helpers = ["SCALE = 3\nOFFSETS = (1, 2, 3, 4, 5)\n"]
    if logging:
        helpers.append("RAN = []\n\n\ndef record(name):\n    RAN.append(name)\n")
    log = (lambda i: f"    helpers.record('step_{i}')\n") if logging else (lambda i: "")
    for i in range(10):
        helpers.append(f"def h{i}(values):\n    return [(v * SCALE + OFFSETS[{i % 5}]) % 1000 for v in values][:8]\n")
    if unused:
        helpers.append(_unused("unused_helper_", unused // 2))
    steps = [f"from {pkg} import helpers\n\nK = [{', '.join(str(i) for i in range(STEPS))}]\n"]
    steps.append(f"def step_0(n):\n{log(0)}    return helpers.h0(list(range(n)))\n")
    for i in range(1, STEPS):
        steps.append(f"def step_{i}(prev):\n{log(i)}    return [v + K[{i}] for v in helpers.h{i % 10}(prev)]\n")
    if unused:
        steps.append(_unused("unused_step_", unused - unused // 2))
    # plain names (dds_py's eval refuses `steps.step_0` as a kept callable)
    names = ", ".join(f"step_{i}" for i in range(STEPS))
    main_dds = [f"import dds\nfrom {pkg}.steps import ({names})\n\n\n",
                "def run():\n    x = dds.keep('/p/s0', step_0, 4)\n"]
    main_dds += [f"    x = dds.keep('/p/s{i}', step_{i}, x)\n" for i in range(1, STEPS)]
    main_dds.append("    return x\n")
    main_ck = [
        "import os\nfrom checkpointer import Checkpointer\n",
        f"from {pkg} import steps\n\n",
        "ck = Checkpointer(directory=os.environ['BENCH_CK_DIR'], verbosity=0)\n",
    ]
    main_ck += [f"c{i} = ck(steps.step_{i})\n" for i in range(STEPS)]
    main_ck.append("\n\ndef run():\n    x = c0(4)\n")
    main_ck += [f"    x = c{i}(x)\n" for i in range(1, STEPS)]
    main_ck.append("    return x\n")
    return {
        f"{pkg}/__init__.py": "",
        f"{pkg}/helpers.py": "\n\n".join(helpers),
        f"{pkg}/steps.py": "\n\n".join(steps),
        f"{pkg}/main_dds.py": "".join(main_dds),
        f"{pkg}/main_ck.py": "".join(main_ck),
    }


def chain_module(n: int) -> str:
    # at run time h0(0) returns at once (no deep Python recursion); statically h_i reaches h_{i+1}
    out = []
    for i in range(n):
        nxt = f"h{i + 1}(x - 1) + {i}" if i + 1 < n else str(i)
        out.append(f"def h{i}(x):\n    if x > 0:\n        return {nxt}\n    return {i}\n")
    return "\n\n".join(out)


def tree_module(n: int) -> str:
    out = []
    for i in range(n):
        kids = [k for k in (2 * i + 1, 2 * i + 2) if k < n]
        expr = " + ".join(f"h{k}(x - 1)" for k in kids) or str(i)
        out.append(f"def h{i}(x):\n    if x > 0:\n        return {expr}\n    return {i}\n")
    return "\n\n".join(out)


def sig_modules() -> dict[str, str]:
    files = {"sigc/__init__.py": "", "sigc/warm.py": "def warm():\n    return 0\n"}
    for n in SIG_SIZES:
        files[f"sigc/chain_{n}.py"] = chain_module(n)
        files[f"sigc/tree_{n}.py"] = tree_module(n)
    return files


def scale_modules(n: int, modules: int) -> dict[str, str]:
    """Package ``sc<n>_<modules>``: ``n`` distinct steps spread over ``modules`` modules, each step taking
    the previous step's value; ``main_dds.run()`` keeps every step (plain names, which dds_py's eval takes)."""
    pkg = scale_package(n, modules)
    per = n // modules
    files = {f"{pkg}/__init__.py": ""}
    for m in range(modules):
        body = ["K = 3\n"]
        body += [f"def step_{i}(prev):\n    return prev + K + {i}\n" for i in range(m * per, (m + 1) * per)]
        files[f"{pkg}/m{m}.py"] = "\n\n".join(body)
    main = ["import dds\n"]
    for m in range(modules):
        names = ", ".join(f"step_{i}" for i in range(m * per, (m + 1) * per))
        main.append(f"from {pkg}.m{m} import ({names})\n")
    main.append("\n\ndef run():\n    x = 0\n")
    main += [f"    x = dds.keep('/s/{i}', step_{i}, x)\n" for i in range(n)]
    main.append("    return x\n")
    files[f"{pkg}/main_dds.py"] = "".join(main)
    return files


def scale_package(n: int, modules: int) -> str:
    return f"sc{n}_{modules}"


def scale_result(n: int) -> int:
    """What ``run()`` of a scale package returns (plain Python)."""
    return sum(3 + i for i in range(n))


BIGSRC = '''
"""Holds the large frame of the store benchmark; dds rejects this module, so it is hashed by name."""
FRAME = None


def get():
    return FRAME


def small():
    import pandas as pd

    return pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]})
'''


def generate(root: str, scale: tuple[tuple[int, int], ...] = ()) -> None:
    """Write the packages under ``root``; ``scale``: the (steps, modules) packages to write too."""
    files: dict[str, str] = {}
    for n, modules in scale:
        files.update(scale_modules(n, modules))
    files.update(warm_modules())
    files.update(pipeline_modules("pipe", 0))
    files.update(pipeline_modules("pipeu", UNUSED))
    files.update(pipeline_modules("pipelog", 0, logging=True))
    files.update(sig_modules())
    files["bigsrc.py"] = BIGSRC
    files["bigfn.py"] = ("import bigsrc\n\n\ndef produce():\n    return bigsrc.get()\n\n\n"
                         "def produce_small():\n    return bigsrc.small()\n")
    for rel, text in files.items():
        _write(root, rel, text)
    # look saved a while ago, as a user's files are (dds checks files saved during the run)
    old = os.path.getmtime(root) - 60
    for rel in files:
        os.utime(os.path.join(root, rel), (old, old))


if __name__ == "__main__":
    import sys

    generate(sys.argv[1])
    print(sys.argv[1])
