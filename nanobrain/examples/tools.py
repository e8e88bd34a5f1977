"""Small lab tools an agent (or anyone, via the API) can call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from Bio.SeqUtils import gc_fraction
from pydantic import Field

from nanobrain.core import WorkflowError, tool
from nanobrain.examples.bioinformatics import MAX_SEQUENCE_LENGTH, check_dna, reverse_complement_of

Sequence = Annotated[str, Field(max_length=MAX_SEQUENCE_LENGTH, description="DNA letters")]

# Factors to the base unit of each dimension (metre, kilogram).
LENGTH = {"m": 1.0, "km": 1000.0, "cm": 0.01, "mm": 0.001, "mi": 1609.344, "ft": 0.3048,
          "in": 0.0254}  # fmt: skip
MASS = {"kg": 1.0, "g": 0.001, "mg": 1e-6, "lb": 0.45359237, "oz": 0.028349523125}
TEMPERATURE = ("C", "F", "K")
_TO_KELVIN: dict[str, Callable[[float], float]] = {
    "C": lambda v: v + 273.15,
    "F": lambda v: (v - 32) * 5 / 9 + 273.15,
    "K": float,
}
_FROM_KELVIN: dict[str, Callable[[float], float]] = {
    "C": lambda k: k - 273.15,
    "F": lambda k: (k - 273.15) * 9 / 5 + 32,
    "K": float,
}
_ALIASES = {"°c": "C", "°f": "F", "celsius": "C", "fahrenheit": "F", "kelvin": "K"}
SUPPORTED = (
    f"length {', '.join(LENGTH)}; mass {', '.join(MASS)}; temperature {', '.join(TEMPERATURE)}"
)


def _dimension(unit: str) -> tuple[str, str]:
    """The dimension and canonical spelling of a unit (case-insensitive)."""
    key = unit.strip().lower()
    key = _ALIASES.get(key, key)
    if key in LENGTH:
        return "length", key
    if key in MASS:
        return "mass", key
    if key.upper() in TEMPERATURE:
        return "temperature", key.upper()
    raise WorkflowError(f"unknown unit {unit!r}; supported units: {SUPPORTED}")


@tool(name="reverse-complement", tags=["dna", "bioinformatics"])
async def reverse_complement(sequence: Sequence) -> str:
    """Return the reverse complement of a DNA sequence (IUPAC codes allowed, case kept)."""
    return reverse_complement_of(check_dna(sequence))


@tool(name="gc-content", tags=["dna", "bioinformatics"])
async def gc_content(sequence: Sequence) -> float:
    """Return the GC content of a DNA sequence, in percent; ambiguous bases are not counted."""
    dna = check_dna(sequence).upper()
    if not any(base in dna for base in "ACGTSW"):
        raise WorkflowError("the sequence has no A, C, G or T bases to count")
    return round(gc_fraction(dna) * 100, 2)


@tool(name="convert-units", tags=["units", "conversion"])
async def convert_units(
    value: Annotated[float, Field(allow_inf_nan=False)], from_unit: str, to_unit: str
) -> float:
    """Convert a value from one unit to another of the same kind.

    Lengths: m, km, cm, mm, mi, ft, in. Masses: kg, g, mg, lb, oz. Temperatures: C, F, K.
    """
    source_kind, source = _dimension(from_unit)
    target_kind, target = _dimension(to_unit)
    if source_kind != target_kind:
        raise WorkflowError(
            f"cannot convert {source_kind} ({from_unit}) to {target_kind} ({to_unit}); "
            f"supported units: {SUPPORTED}"
        )
    if source_kind == "temperature":
        kelvin = _TO_KELVIN[source](value)
        if kelvin < 0:
            raise WorkflowError(f"{value} {source} is below absolute zero")
        result = _FROM_KELVIN[target](kelvin)
    else:
        factors = LENGTH if source_kind == "length" else MASS
        result = value * factors[source] / factors[target]
    return float(f"{result:.12g}")  # drop binary noise such as 2.5400000000000005
