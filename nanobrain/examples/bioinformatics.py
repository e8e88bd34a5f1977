"""DNA sequence analysis: GC content, molecular weight, translation and the longest ORF."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from typing import Annotated, Literal

from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord
from Bio.SeqUtils import gc_fraction, molecular_weight
from pydantic import BaseModel, Field

from nanobrain.core import Context, File, Table, WorkflowError, workflow

MAX_RECORDS = 10_000
MAX_SEQUENCE_LENGTH = 10_000_000
IUPAC_DNA = "ACGTRYSWKMBDHVN"
_COMPLEMENT = str.maketrans(
    IUPAC_DNA + IUPAC_DNA.lower(), "TGCAYRSWMKVHDBN" + "TGCAYRSWMKVHDBN".lower()
)
_NOT_SEQUENCE_LETTER = re.compile(r"[^A-Za-z*.\-]")
_NOT_NUCLEOTIDE = re.compile(r"[^ACGTURYSWKMBDHVN.\-]", re.IGNORECASE)
_NOT_DNA = re.compile(r"[^ACGTRYSWKMBDHVN]", re.IGNORECASE)
_GAPS = str.maketrans("", "", ".-")


def _shown(characters: set[str]) -> str:
    return ", ".join(repr(c) for c in sorted(characters)[:5])


def check_dna(sequence: str) -> str:
    """Return `sequence` without whitespace, or raise WorkflowError naming non-IUPAC letters."""
    cleaned = "".join(sequence.split())
    bad = set(_NOT_DNA.findall(cleaned))
    if bad:
        raise WorkflowError(
            f"not a DNA sequence: {_shown(bad)} are not IUPAC nucleotide codes ({IUPAC_DNA})"
        )
    return cleaned


def reverse_complement_of(sequence: str) -> str:
    """The reverse complement of an IUPAC DNA string (case preserved)."""
    return sequence.translate(_COMPLEMENT)[::-1]


class OpenReadingFrame(BaseModel):
    """An ATG...stop reading frame; positions are 1-based and inclusive on the forward strand."""

    start: int
    end: int
    strand: Literal["+", "-"]
    length: int = Field(description="Length in nucleotides, stop codon included")
    protein: str = Field(description="The encoded protein, without the stop")


class SequenceRecordResult(BaseModel):
    """The analysis of one FASTA record."""

    id: str
    description: str
    length: int = Field(description="Sequence length in nucleotides, gaps removed")
    gc_content: float | None = Field(description="GC percent; ambiguous bases are excluded")
    molecular_weight: float | None = Field(
        description="Single-stranded weight in Da; null when the sequence has ambiguous bases"
    )
    ambiguous_bases: int
    protein: str = Field(description="Translation of the whole sequence in frame 1 (* = stop)")
    longest_orf: OpenReadingFrame | None


class SequenceReport(BaseModel):
    """Per-record results, plus the same scalar values as a table."""

    records: list[SequenceRecordResult]
    table: Table


def _longest_orf(dna: str) -> OpenReadingFrame | None:
    """Scan the 3 frames of both strands; the first longest ATG...stop wins."""
    size = len(dna)
    strands: tuple[tuple[Literal["+", "-"], str], ...] = (
        ("+", dna),
        ("-", reverse_complement_of(dna)),
    )
    best: OpenReadingFrame | None = None
    for strand, text in strands:
        for frame in range(3):
            usable = (size - frame) // 3 * 3
            protein = str(Seq(text[frame : frame + usable]).translate())
            codon = 0
            for segment in protein.split("*")[:-1]:  # the last piece has no stop codon
                first_m = segment.find("M")
                length = (len(segment) - first_m + 1) * 3
                if first_m >= 0 and (best is None or length > best.length):
                    begin = frame + (codon + first_m) * 3  # 0-based, on this strand
                    start, end = begin + 1, begin + length
                    if strand == "-":
                        start, end = size - end + 1, size - begin
                    best = OpenReadingFrame(
                        start=start,
                        end=end,
                        strand=strand,
                        length=length,
                        protein=segment[first_m:],
                    )
                codon += len(segment) + 1
    return best


def _analyse(record: SeqRecord) -> SequenceRecordResult:
    raw = str(record.seq)
    invalid = set(_NOT_SEQUENCE_LETTER.findall(raw))
    if invalid:
        raise WorkflowError(
            f"not a FASTA file: record {record.id!r} contains {_shown(invalid)}, "
            "which are not sequence letters"
        )
    not_nucleotide = set(_NOT_NUCLEOTIDE.findall(raw))
    if not_nucleotide:
        raise WorkflowError(
            f"record {record.id!r} is not DNA: {_shown(not_nucleotide)} are not nucleotide codes "
            "(this workflow analyses DNA, not protein)"
        )
    original = raw.upper().translate(_GAPS)
    if len(original) > MAX_SEQUENCE_LENGTH:
        raise WorkflowError(
            f"record {record.id!r} has {len(original):,} bp; the limit is "
            f"{MAX_SEQUENCE_LENGTH:,} bp per sequence"
        )
    dna = original.replace("U", "T")  # RNA is analysed as its DNA equivalent
    ambiguous = sum(dna.count(base) for base in IUPAC_DNA[4:])
    resolvable = sum(dna.count(base) for base in "ACGTSW")  # what gc_fraction can count
    weight: float | None = None
    if ambiguous == 0 and dna:
        kind = "RNA" if "U" in original and "T" not in original else "DNA"
        try:
            weight = round(molecular_weight(original if kind == "RNA" else dna, kind), 2)
        except ValueError:
            weight = None
    return SequenceRecordResult(
        id=record.id or "",
        description=record.description,
        length=len(dna),
        gc_content=round(gc_fraction(dna) * 100, 2) if resolvable else None,
        molecular_weight=weight,
        ambiguous_bases=ambiguous,
        protein=str(Seq(dna[: len(dna) // 3 * 3]).translate(to_stop=False)),
        longest_orf=_longest_orf(dna),
    )


def _open_fasta(data: bytes) -> tuple[Iterator[SeqRecord], int]:
    """Check the bytes look like FASTA text; return a lazy record parser and the record count."""
    if b"\x00" in data[:65536]:
        raise WorkflowError("not a FASTA file: the content is binary, not text")
    try:
        text = data.decode("utf-8-sig").lstrip()
    except UnicodeDecodeError as exc:
        raise WorkflowError("not a FASTA file: the content is not UTF-8 text") from exc
    if not text:
        raise WorkflowError("not a FASTA file: the file is empty")
    if not text.startswith(">"):
        first = text.splitlines()[0][:40]
        raise WorkflowError(
            f"not a FASTA file: the first line should be a '>' header, found {first!r}"
        )
    count = 1 + text.count("\n>")
    if count > MAX_RECORDS:
        raise WorkflowError(f"the file has {count:,} records; the limit is {MAX_RECORDS:,}")
    return SeqIO.parse(io.StringIO(text), "fasta"), count


def _next_result(records: Iterator[SeqRecord]) -> SequenceRecordResult | None:
    try:
        record = next(records, None)
    except ValueError as exc:
        raise WorkflowError(f"not a FASTA file: {exc}") from exc
    return None if record is None else _analyse(record)


def _row(result: SequenceRecordResult) -> dict[str, object]:
    orf = result.longest_orf
    return {
        **result.model_dump(exclude={"protein", "longest_orf"}),
        "orf_start": orf.start if orf else None,
        "orf_end": orf.end if orf else None,
        "orf_strand": orf.strand if orf else None,
        "orf_length": orf.length if orf else None,
    }


@workflow(
    name="sequence-analysis",
    tags=["bioinformatics", "fasta", "dna"],
    mode="job",
    examples=[
        "analyse the sequences in this FASTA file",
        "GC content and ORFs of my DNA",
        "translate my DNA sequences and find the longest open reading frame",
    ],
)
async def sequence_analysis(
    ctx: Context,
    fasta: Annotated[File, Field(description="A FASTA file of DNA (or RNA) sequences")],
) -> SequenceReport:
    """Analyse every DNA sequence in a FASTA file.

    For each record: length, GC content, molecular weight, the translation of the whole sequence
    and the longest open reading frame (ATG to stop) on either strand. Ambiguous IUPAC bases are
    accepted. Up to 10,000 records of at most 10 Mbp each.
    """
    data = await asyncio.to_thread(fasta.read_bytes)
    records, total = await asyncio.to_thread(_open_fasta, data)
    results: list[SequenceRecordResult] = []
    # One record per thread hop: the event loop stays free and cancellation lands between records.
    while (result := await asyncio.to_thread(_next_result, records)) is not None:
        results.append(result)
        ctx.progress(len(results) / total, f"record {result.id}")
    if not results:
        raise WorkflowError("not a FASTA file: no records found")
    table = Table.from_records([_row(r) for r in results], title="Sequences")
    return SequenceReport(records=results, table=table)
