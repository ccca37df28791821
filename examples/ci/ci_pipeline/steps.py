"""The steps: plain functions of pandas frames. Each is kept at one path by ``pipeline.main``."""

from __future__ import annotations

import numpy as np
import pandas as pd

import dds

SHOPS = ("north", "south", "east", "west")
MIN_UNITS = 1  # rows selling fewer units are test transactions
TOP_N = 3  # shops listed in the report


def make_sales(n_days: int) -> pd.DataFrame:
    """Deterministic synthetic sales: one row per shop and day (stands for an extract from a database)."""
    days = pd.date_range("2024-01-01", periods=n_days, freq="D")
    frames = []
    for i, shop in enumerate(SHOPS):
        units = (np.arange(n_days) * (i + 3) + i) % 17
        frames.append(pd.DataFrame({"day": days, "shop": shop, "units": units, "price": 2.5 + i}))
    return pd.concat(frames, ignore_index=True)


def clean(sales: pd.DataFrame) -> pd.DataFrame:
    """Drop test transactions."""
    return sales[sales["units"] >= MIN_UNITS].reset_index(drop=True)


def weekly(rows: pd.DataFrame) -> pd.DataFrame:
    """Revenue per shop and ISO week."""
    revenue = rows.assign(week=rows["day"].dt.isocalendar().week.astype(int), revenue=rows["units"] * rows["price"])
    return revenue.groupby(["shop", "week"], as_index=False)[["units", "revenue"]].sum()


@dds.data_function("/ci/summary")
def summary() -> pd.DataFrame:
    """Total revenue per shop, best first (reads the weekly totals from the store)."""
    weeks = dds.load("/ci/weekly")
    totals = weeks.groupby("shop", as_index=False)["revenue"].sum()
    return totals.sort_values("revenue", ascending=False).head(TOP_N).reset_index(drop=True)


def render(totals: pd.DataFrame) -> str:
    """The report people read."""
    lines = [f"{row.shop:<6} {row.revenue:10.2f}" for row in totals.itertuples()]
    return "top shops by revenue\n" + "\n".join(lines) + "\n"
