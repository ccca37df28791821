"""An example dds pipeline: raw data -> cleaned table -> fitted model -> text report.

Run it twice (``make run``): the first run computes every step, the second loads every step from the
store in ``./.dds`` because no code changed. Edit a constant or a function below and run again: only the
steps that depend on the edit re-run.
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


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(main(), end="")
