"""Packaging for dds. Tool configuration lives in pyproject.toml."""

import os

from setuptools import find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
version: dict = {}
with open(os.path.join(here, "dds", "_version.py")) as f:
    exec(f.read(), version)

# The %%dds magic and rich display need IPython; the tests execute notebooks/ on a fresh kernel (nbclient).
NOTEBOOK = ["ipython>=8", "ipykernel>=6", "nbclient>=0.7", "nbformat>=5"]
# `make docs`: the mkdocs-material site with an API reference generated from docstrings, the notebooks
# rendered with their outputs (mkdocs-jupyter), and the tutorial, whose build runs examples/pipeline.py and
# draws its graph (pandas, numpy, pydotplus).
DOCS = ["mkdocs>=1.5", "mkdocs-material>=9", "mkdocstrings[python]>=0.24", "mkdocs-jupyter>=0.24",
        "pandas>=1.5", "numpy>=1.23", "pydotplus>=2.0"]

setup(
    name="dds",
    version=version["__version__"],
    description="Data-driven programming: keep what your functions return, recompute only when code changes",
    long_description=open(os.path.join(here, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["dds", "dds.*"]),
    python_requires=">=3.10",
    install_requires=[
        "pyarrow>=12",
        "fsspec>=2023.1",
        "cloudpickle>=2.0",
        "click>=8.0",
        # Windows only: a lock file per signature on local stores (elsewhere dds/store/sig_lock.py: POSIX record
        # locks on one file, no file per signature); the OS releases either if a holder dies
        "filelock>=3.12; platform_system == 'Windows'",
        "tqdm>=4.60",  # progress of long evaluations (only on a terminal)
        "xxhash>=3",  # checksums verified on every load: XXH3-128 at ~20 GB/s (blake2b: ~0.9 GB/s)
    ],
    extras_require={
        "pandas": ["pandas>=1.5", "numpy>=1.23"],
        "spark": ["pyspark>=3.4"],
        "graph": ["pydotplus>=2.0"],
        "delta": ["deltalake>=0.15"],
        "s3": ["s3fs>=2023.1"],
        "notebook": NOTEBOOK,
        "docs": DOCS,
        "dev": ["pandas>=1.5", "numpy>=1.23", "pydotplus>=2.0", "pyspark>=3.5", "deltalake>=0.15",
                "s3fs>=2023.1", "moto[server]>=5", "boto3", "pytest>=7", "hypothesis>=6",
                "scikit-learn>=1.2"] + NOTEBOOK + DOCS,  # real estimators as inputs in tests (issue 13)
    },
    entry_points={"console_scripts": ["dds=dds.cli:main"]},
    license="Apache-2.0",
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering",
    ],
)
