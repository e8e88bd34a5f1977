"""Data types a workflow takes and returns; each output type picks its UI component by `kind`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class File(BaseModel):
    """A stored file. As input it is given by `file_id`; the runtime resolves it before the run.

    In JSON a file field is the `file_id` string (or `{"file_id": ...}`); in Python the workflow
    gets this object with the metadata and a local `path` to read from.
    """

    model_config = ConfigDict(frozen=True, json_schema_extra={"x-nanobrain-type": "file"})

    kind: Literal["file"] = "file"
    file_id: str
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _from_id(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"file_id": value}
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        if handler.mode == "validation":  # as input, a file is named by its id
            return {
                "type": "string",
                "format": "file",
                "title": "File",
                "description": "The file_id of an uploaded file (POST /api/v1/files)",
                "x-nanobrain-type": "file",
            }
        return handler(core_schema)

    @property
    def resolved(self) -> bool:
        return self.path is not None

    def _require_path(self) -> Path:
        if self.path is None:
            raise RuntimeError(f"file {self.file_id} has not been resolved to stored content")
        return self.path

    def read_bytes(self) -> bytes:
        return self._require_path().read_bytes()

    def read_text(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._require_path().read_text(encoding=encoding, errors=errors)


class Markdown(BaseModel):
    """Text rendered as (sanitized) Markdown."""

    kind: Literal["markdown"] = "markdown"
    text: str


class Table(BaseModel):
    """Rows under named columns: rendered sortable and paged, downloadable as CSV."""

    kind: Literal["table"] = "table"
    columns: list[str]
    rows: list[list[Any]]
    title: str | None = None

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], title: str | None = None) -> Table:
        columns: list[str] = []
        for record in records:
            columns.extend(key for key in record if key not in columns)
        rows = [[record.get(column) for column in columns] for record in records]
        return cls(columns=columns, rows=rows, title=title)

    @classmethod
    def from_dataframe(cls, frame: Any, title: str | None = None, index: bool = True) -> Table:
        """Build from a pandas DataFrame; NaN becomes null so the table stays valid JSON."""
        data = frame.reset_index() if index else frame
        data = data.astype(object).where(data.notna(), None)
        return cls(columns=[str(c) for c in data.columns], rows=data.values.tolist(), title=title)


class Chart(BaseModel):
    """A Vega-Lite specification, rendered with vega-embed."""

    kind: Literal["chart"] = "chart"
    spec: dict[str, Any]
    title: str | None = None


class Image(BaseModel):
    """An image, inline (base64 `data`) or as a stored file (`file_id`)."""

    kind: Literal["image"] = "image"
    media_type: str = "image/png"
    data: str | None = None
    file_id: str | None = None
    alt: str | None = None

    @model_validator(mode="after")
    def _has_content(self) -> Image:
        if (self.data is None) == (self.file_id is None):
            raise ValueError("an Image needs exactly one of `data` (base64) or `file_id`")
        return self
