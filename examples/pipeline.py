"""An example dds pipeline: raw data -> cleaned table -> fitted model -> text report.

Run it twice (``make run``): the first run computes every step, the second loads every step from the
store in ``./.dds`` because no code changed. Edit a constant or a function below and run again: only the
steps that depend on the edit re-run, and each says why (``dds why /example/model`` asks again later;
``dds run examples.pipeline:main`` runs the same pipeline from the command line).
"""

import logging

import numpy as np
import pandas as pd

import dds

N_ROWS = 1_000
NOISE = 0.1
SLOPE = 3.0


def make_raw(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, N_ROWS)
    y = SLOPE * x + 2.0 + rng.normal(0, NOISE, N_ROWS)
    return pd.DataFrame({"x": x, "y": y})


def clean(raw: pd.DataFrame) -> pd.DataFrame:
    return raw[(raw.x > 0.5) & (raw.x < 9.5)].reset_index(drop=True)


@dds.data_function("/example/model")
def fit() -> np.ndarray:
    table = dds.load("/example/clean")
    design = np.column_stack([table.x.to_numpy(), np.ones(len(table))])
    coef, *_ = np.linalg.lstsq(design, table.y.to_numpy(), rcond=None)
    return coef


def report(coef: np.ndarray) -> str:
    return f"fitted y = {coef[0]:.3f} * x + {coef[1]:.3f} (true slope {SLOPE})\n"


def main() -> str:
    raw = dds.keep("/example/raw", make_raw, 42)
    dds.keep("/example/clean", clean, raw)
    coef = fit()
    return dds.keep("/example/report", report, coef)


class SayWhy(logging.Filter):
    """Adds under each "dds: computed PATH" log line the reason ``dds.why(PATH)`` gives, e.g.
    ``because __main__.make_raw: SLOPE changed 3.0 -> 4.0``."""

    def filter(self, record: logging.LogRecord) -> bool:
        words = record.getMessage().split()
        if words[:2] == ["dds:", "computed"]:
            record.msg, record.args = f"{record.getMessage()}\n    because {self.reason(words[2])}", None
        return True

    @staticmethod
    def reason(path: str) -> str:
        lines = dds.why(path).splitlines()
        causes = [line.strip()[2:].removeprefix(f"{path} -> ") for line in lines if line.startswith("  - ")]
        causes = [c.removeprefix(f"{path}: ") for c in causes]
        specific = [c for c in causes if c != "the arguments changed"]  # an edit beats "its input changed"
        if specific or causes:
            return "; ".join(specific or ["its arguments changed (a value given to it changed)"])
        return "nothing was stored for it yet" if "no earlier stored value" in lines[0] else lines[0]


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("dds").addFilter(SayWhy())
    print(main(), end="")
