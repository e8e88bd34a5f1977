"""Unit tests for nanobrain.examples: each workflow and tool called directly with a real Context."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

import pytest
from Bio.SeqUtils import molecular_weight
from pydantic import ValidationError

import nanobrain
from nanobrain import Context, File, WorkflowError
from nanobrain.core import User, spec_of
from nanobrain.core.registry import Registry
from nanobrain.examples import (
    DATA_DIR,
    bioinformatics,
    convert_units,
    data_summary,
    echo,
    gc_content,
    lab_assistant,
    reverse_complement,
    sequence_analysis,
    simulation,
    text_stats,
)
from tests.support.waiting import wait_until_async


class RecordingSink:
    """Collects what a workflow reports, in order."""

    def __init__(self) -> None:
        self.progress_calls: list[tuple[float | None, str | None, str | None]] = []
        self.events: list[tuple[str, Any]] = []

    def progress(self, fraction: float | None, message: str | None, step: str | None) -> None:
        self.progress_calls.append((fraction, message, step))

    def emit(self, event_type: str, data: Any) -> None:
        self.events.append((event_type, data))


class UnusedFiles:
    async def get(self, file_id: str) -> File:
        raise AssertionError("the examples never look files up")

    async def save(self, filename: str, data: bytes, content_type: str | None = None) -> File:
        raise AssertionError("the examples never save files")


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def ctx(sink: RecordingSink) -> Context:
    return Context(
        execution_id="exec-1",
        workflow="test",
        user=User(id="u1", username="tester", role="user"),
        sink=sink,
        files=UnusedFiles(),
    )


def make_file(tmp_path: Path, name: str, content: str | bytes) -> File:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return nanobrain.File(file_id="x", path=path)


def revcomp(dna: str) -> str:
    return dna[::-1].translate(str.maketrans("ACGT", "TGCA"))


# -- sequence-analysis -------------------------------------------------------------------------
def test_sequence_analysis_known_values(ctx: Context, tmp_path: Path) -> None:
    minus_orf = "CC" + revcomp("ATGGCATAA") + "CC"  # ORF only on the reverse strand
    fasta = (
        ">gc GC only\nGGCC\n"
        ">plus\nCCATGAAATTTTAGCC\n"
        f">minus\n{minus_orf}\n"
        ">amb\nACGNAC\n"
        ">frag\nATGAAATAGG\n"
    )
    report = asyncio.run(sequence_analysis(ctx, make_file(tmp_path, "f.fasta", fasta)))
    gc, plus, minus, amb, frag = report.records

    assert (gc.id, gc.description, gc.length, gc.gc_content) == ("gc", "gc GC only", 4, 100.0)
    assert gc.molecular_weight == round(molecular_weight("GGCC", "DNA"), 2)
    assert gc.longest_orf is None

    assert plus.longest_orf is not None
    assert plus.longest_orf.model_dump() == {
        "start": 3, "end": 14, "strand": "+", "length": 12, "protein": "MKF",
    }  # fmt: skip
    assert minus.longest_orf is not None
    assert minus.longest_orf.model_dump() == {
        "start": 3, "end": 11, "strand": "-", "length": 9, "protein": "MA",
    }  # fmt: skip

    assert amb.ambiguous_bases == 1
    assert amb.molecular_weight is None  # ambiguous: no crash, no weight
    assert amb.gc_content == 60.0  # N is left out: 3 of 5

    assert frag.protein == "MK*"  # trimmed to a multiple of 3, not stopped early

    assert report.table.columns[:3] == ["id", "description", "length"]
    assert len(report.table.rows) == 5
    row = dict(zip(report.table.columns, report.table.rows[1], strict=True))
    assert (row["orf_start"], row["orf_end"], row["orf_strand"]) == (3, 14, "+")


def test_sequence_analysis_reports_progress_per_record(ctx: Context, sink: RecordingSink) -> None:
    report = asyncio.run(sequence_analysis(ctx, File(file_id="x", path=DATA_DIR / "sample.fasta")))
    assert [r.id for r in report.records] == ["seq1", "seq2", "seq3"]
    assert [(f, m) for f, m, _ in sink.progress_calls] == [
        (pytest.approx(1 / 3), "record seq1"),
        (pytest.approx(2 / 3), "record seq2"),
        (1.0, "record seq3"),
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty"),
        ("\n  \n", "empty"),
        ("name,value\na,1\n", "header"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b">x\n\xff\xfe\xfa", "UTF-8"),
        (">x\nACGT12!\n", "not sequence letters"),
    ],
)
def test_sequence_analysis_rejects_non_fasta(
    ctx: Context, tmp_path: Path, content: str | bytes, reason: str
) -> None:
    with pytest.raises(WorkflowError, match=f"not a FASTA file: .*{reason}"):
        asyncio.run(sequence_analysis(ctx, make_file(tmp_path, "f.fasta", content)))


def test_sequence_analysis_rejects_protein(ctx: Context, tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="is not DNA"):
        asyncio.run(sequence_analysis(ctx, make_file(tmp_path, "p.fasta", ">p\nMKLVEFQ\n")))


def test_sequence_analysis_caps(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = ">r\nACGT\n" * (bioinformatics.MAX_RECORDS + 1)
    with pytest.raises(WorkflowError, match="limit is 10,000"):
        asyncio.run(sequence_analysis(ctx, make_file(tmp_path, "many.fasta", many)))
    monkeypatch.setattr(bioinformatics, "MAX_SEQUENCE_LENGTH", 10)
    with pytest.raises(WorkflowError, match="'long' has 12 bp"):
        asyncio.run(sequence_analysis(ctx, make_file(tmp_path, "l.fasta", ">long\n" + "A" * 12)))


# -- data-summary ------------------------------------------------------------------------------
def test_data_summary_sample(ctx: Context) -> None:
    result = asyncio.run(data_summary(ctx, File(file_id="x", path=DATA_DIR / "sample.csv")))
    assert result.rows == 20
    assert result.columns == ["site", "temperature_c", "ph", "biomass_g", "cell_count"]
    assert result.summary.columns == ["column", "count", "mean", "std", "min", "max"]
    stats = {row[0]: row for row in result.summary.rows}
    assert list(stats) == ["temperature_c", "ph", "biomass_g", "cell_count"]
    assert stats["biomass_g"][1] == 19  # one blank cell
    spec = result.chart.spec
    assert spec["$schema"] == "https://vega.github.io/schema/vega-lite/v5.json"
    assert spec["mark"] == "bar"
    assert sum(b["count"] for b in spec["data"]["values"]) == 20
    assert spec["encoding"]["x"]["title"] == "temperature_c"  # the first numeric column


def test_data_summary_numbers_and_chosen_column(ctx: Context, tmp_path: Path) -> None:
    csv = "name,a,b\nx,1,10\ny,2,\nz,6,\n"
    result = asyncio.run(data_summary(ctx, make_file(tmp_path, "t.csv", csv), column="b"))
    stats = {row[0]: row[1:] for row in result.summary.rows}
    assert stats["a"] == [3, 3.0, pytest.approx(math.sqrt(7)), 1.0, 6.0]
    assert stats["b"] == [1, 10.0, None, 10.0, 10.0]  # std of one value is NaN -> None
    values = result.chart.spec["data"]["values"]
    assert sum(b["count"] for b in values) == 1
    assert result.chart.spec["encoding"]["x"]["title"] == "b"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        (b"\x00\x01\x02binary\x00", "not a CSV file: the content is binary"),
        (b"a,b\n\xff\xfe,1\n", "not a CSV file: the content is not UTF-8"),
        ('a,b\n1,2\n3,4,5,6\n"unterminated', "not a CSV file"),
        ("name,city\nann,paris\nbob,rome\n", "no numeric columns"),
    ],
)
def test_data_summary_rejects_bad_files(
    ctx: Context, tmp_path: Path, content: str | bytes, message: str
) -> None:
    with pytest.raises(WorkflowError, match=message):
        asyncio.run(data_summary(ctx, make_file(tmp_path, "t.csv", content)))


def test_data_summary_unknown_column(ctx: Context, tmp_path: Path) -> None:
    file = make_file(tmp_path, "t.csv", "name,a,b\nx,1,2\n")
    with pytest.raises(
        WorkflowError, match=r"'name' is not a numeric column.*numeric columns: a, b"
    ):
        asyncio.run(data_summary(ctx, file, column="name"))
    with pytest.raises(WorkflowError, match="numeric columns: a, b"):
        asyncio.run(data_summary(ctx, file, column="nope"))


# -- simulation --------------------------------------------------------------------------------
def test_simulation_runs_and_reports_each_step(ctx: Context, sink: RecordingSink) -> None:
    result = asyncio.run(simulation(ctx, steps=4, step_seconds=0, seed=42))
    assert result.steps_completed == 4
    assert result.points == 4000
    assert abs(result.estimate - math.pi) < 0.2
    assert result.error == pytest.approx(abs(result.estimate - math.pi))
    assert len(result.trace.rows) == 4
    assert sink.progress_calls == [(i / 4, f"step {i}/4", f"step-{i}") for i in range(1, 5)]
    again = asyncio.run(simulation(ctx, steps=4, step_seconds=0, seed=42))
    assert again.estimate == result.estimate  # same seed, same answer (it is retry-safe)


def test_simulation_cancels_promptly(ctx: Context, sink: RecordingSink) -> None:
    async def scenario() -> float:
        task = asyncio.create_task(simulation(ctx, steps=10_000, step_seconds=0.05))
        await wait_until_async(lambda: len(sink.progress_calls) >= 2, what="a step done")
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - cancelled_at

    assert asyncio.run(scenario()) < 0.5


def test_simulation_input_bounds() -> None:
    spec = spec_of(simulation)
    assert spec is not None
    assert spec.input_model.model_validate({}).model_dump() == {
        "steps": 10, "step_seconds": 0.5, "seed": 0,
    }  # fmt: skip
    with pytest.raises(ValidationError):
        spec.input_model.model_validate({"steps": 0})
    with pytest.raises(ValidationError):
        spec.input_model.model_validate({"step_seconds": 61})


# -- text-stats and echo -----------------------------------------------------------------------
def test_text_stats(ctx: Context) -> None:
    text = "The cat sat on the mat. The Cat ran! Did the dog run after the cat?"
    stats = asyncio.run(text_stats(ctx, text=text, top=2))
    assert stats.characters == len(text)
    assert stats.words == 16
    assert stats.sentences == 3
    letters = sum(map(len, text.split())) - 3  # not the . ! ?
    assert stats.average_word_length == round(letters / 16, 2)
    assert [t.model_dump() for t in stats.top_terms] == [
        {"term": "cat", "count": 3},
        {"term": "after", "count": 1},  # ties are alphabetical
    ]


def test_text_stats_empty_text(ctx: Context) -> None:
    stats = asyncio.run(text_stats(ctx, text=""))
    assert (stats.words, stats.sentences, stats.average_word_length, stats.top_terms) == (
        0, 0, 0.0, [],
    )  # fmt: skip


def test_echo(ctx: Context) -> None:
    assert asyncio.run(echo(ctx, message="hi")).message == "hi"
    assert asyncio.run(echo(ctx)).message == ""


# -- tools ------------------------------------------------------------------------------------
def test_reverse_complement() -> None:
    assert asyncio.run(reverse_complement("ATGC")) == "GCAT"
    assert asyncio.run(reverse_complement("aaCGn\nRY")) == "RYnCGtt"
    with pytest.raises(WorkflowError, match="not IUPAC"):
        asyncio.run(reverse_complement("ATGX"))


def test_gc_content() -> None:
    assert asyncio.run(gc_content("GGCC")) == 100.0
    assert asyncio.run(gc_content("atgc")) == 50.0
    with pytest.raises(WorkflowError, match="not IUPAC"):
        asyncio.run(gc_content("ATG!"))
    with pytest.raises(WorkflowError):
        asyncio.run(gc_content("NNN"))


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (1, "km", "m", 1000),
        (1, "in", "cm", 2.54),
        (1, "mi", "ft", 5280),
        (250, "mm", "m", 0.25),
        (1, "lb", "g", 453.59237),
        (16, "oz", "lb", 1),
        (1500, "mg", "g", 1.5),
        (100, "C", "F", 212),
        (32, "F", "K", 273.15),
        (0, "k", "c", -273.15),
        (-40, "°F", "celsius", -40),
    ],
)
def test_convert_units(value: float, source: str, target: str, expected: float) -> None:
    assert asyncio.run(convert_units(value, source, target)) == pytest.approx(expected)


def test_convert_units_errors() -> None:
    with pytest.raises(WorkflowError, match=r"cannot convert length .* supported units: length m"):
        asyncio.run(convert_units(1, "m", "kg"))
    with pytest.raises(WorkflowError, match=r"unknown unit 'parsec'.*mass kg, g.*temperature C"):
        asyncio.run(convert_units(1, "parsec", "m"))
    with pytest.raises(WorkflowError, match="absolute zero"):
        asyncio.run(convert_units(-300, "C", "K"))


# -- registration -----------------------------------------------------------------------------
def test_registry_loads_exactly_the_examples() -> None:
    registry = Registry()
    registry.load("nanobrain.examples")
    registry.validate()
    assert set(registry.workflows) == {
        "sequence-analysis", "data-summary", "simulation", "text-stats", "echo",
    }  # fmt: skip
    assert set(registry.tools) == {"reverse-complement", "gc-content", "convert-units"}
    assert set(registry.agents) == {"lab-assistant"}
    assert registry.agents["lab-assistant"] is lab_assistant
    modes = {name: spec.mode for name, spec in registry.workflows.items()}
    assert modes == {
        "sequence-analysis": "job", "data-summary": "job", "simulation": "job",
        "text-stats": "sync", "echo": "sync",
    }  # fmt: skip
    assert registry.workflows["simulation"].retry_safe
    assert registry.workflows["sequence-analysis"].file_fields == ("fasta",)
    assert registry.workflows["data-summary"].file_fields == ("table",)


def test_sample_data_ships_with_the_package() -> None:
    assert (DATA_DIR / "sample.fasta").read_text().count(">") == 3
    assert len((DATA_DIR / "sample.csv").read_text().splitlines()) == 21
