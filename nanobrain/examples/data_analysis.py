"""Summary statistics and a histogram for a CSV file, computed with pandas."""

from __future__ import annotations

import asyncio
import io
import math
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from nanobrain.core import Chart, Context, File, Table, WorkflowError, workflow

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
MAX_BINS = 40


class DataSummary(BaseModel):
    """Statistics per numeric column and a histogram of one of them."""

    rows: int
    columns: list[str]
    summary: Table
    chart: Chart


def _number(value: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become null."""
    number = float(value)
    return number if math.isfinite(number) else None


def _read_csv(data: bytes) -> pd.DataFrame:
    if b"\x00" in data[:65536]:
        raise WorkflowError("not a CSV file: the content is binary, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WorkflowError("not a CSV file: the content is not UTF-8 text") from exc
    if not text.strip():
        raise WorkflowError("the CSV file is empty")
    try:
        return pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkflowError(f"not a CSV file: {reason}") from exc


def _summarise(frame: pd.DataFrame) -> Table:
    records = []
    for name in frame.columns:
        values = frame[name]
        records.append(
            {
                "column": str(name),
                "count": int(values.count()),
                "mean": _number(values.mean()),
                "std": _number(values.std()),
                "min": _number(values.min()),
                "max": _number(values.max()),
            }
        )
    return Table.from_records(records, title="Numeric columns")


def _histogram(values: pd.Series, column: str) -> Chart:
    """Bin in pandas so the spec stays small however long the CSV is."""
    finite = values.to_numpy(dtype=float, na_value=np.nan)
    finite = finite[np.isfinite(finite)]
    bins: list[dict[str, float | int]] = []
    if finite.size:
        counts, edges = np.histogram(finite, bins=min(MAX_BINS, max(1, int(finite.size**0.5))))
        bins = [
            {"bin_start": float(edges[i]), "bin_end": float(edges[i + 1]), "count": int(n)}
            for i, n in enumerate(counts)
        ]
    spec = {
        "$schema": VEGA_LITE_SCHEMA,
        "description": f"Histogram of {column}",
        "data": {"values": bins},
        "mark": "bar",
        "encoding": {
            "x": {
                "field": "bin_start",
                "type": "quantitative",
                "bin": {"binned": True},
                "title": column,
            },
            "x2": {"field": "bin_end"},
            "y": {"field": "count", "type": "quantitative", "title": "rows"},
        },
    }
    return Chart(spec=spec, title=f"Distribution of {column}")


def _analyse(data: bytes, column: str | None) -> DataSummary:
    frame = _read_csv(data)
    numeric = frame.select_dtypes(include="number")
    if numeric.columns.empty:
        hint = "; is it comma-separated?" if len(frame.columns) == 1 else ""
        raise WorkflowError(
            f"the CSV has no numeric columns (columns: {', '.join(map(str, frame.columns))}){hint}"
        )
    names = [str(name) for name in numeric.columns]
    chosen = names[0] if column is None else column
    if chosen not in names:
        raise WorkflowError(
            f"column {chosen!r} is not a numeric column of this CSV; "
            f"numeric columns: {', '.join(names)}"
        )
    return DataSummary(
        rows=len(frame),
        columns=[str(name) for name in frame.columns],
        summary=_summarise(numeric),
        chart=_histogram(numeric.iloc[:, names.index(chosen)], chosen),
    )


@workflow(
    name="data-summary",
    tags=["data", "csv", "statistics", "pandas"],
    mode="job",
    examples=[
        "summarise this CSV file",
        "mean, min and max of every column in my spreadsheet",
        "plot a histogram of a column",
    ],
)
async def data_summary(
    ctx: Context,
    table: Annotated[File, Field(description="A CSV file with a header row")],
    column: Annotated[
        str | None, Field(description="Numeric column to plot (default: the first one)")
    ] = None,
) -> DataSummary:
    """Summarise a CSV file: count, mean, standard deviation, min and max of each numeric column.

    Also draws a histogram of one numeric column: `column` if given, otherwise the first one.
    """
    ctx.progress(0.0, "reading the CSV")
    data = await asyncio.to_thread(table.read_bytes)
    result = await asyncio.to_thread(_analyse, data, column)
    ctx.progress(1.0, f"{result.rows} rows summarised")
    return result
