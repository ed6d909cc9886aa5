"""What one fault of `make chaos` came to, and the table they are printed in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HEADER = (
    "fault",
    "what was done",
    "acked",
    "lost",
    "dup",
    "out of order",
    "polite errors",
    "recovery",
)


@dataclass
class FaultResult:
    """One fault: what was done to Linli and what it lost, repeated and answered politely."""

    fault: str
    done: str
    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    disordered: list[str] = field(default_factory=list)
    polite_errors: int = 0
    recovery_seconds: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Nothing lost, nothing twice, nothing out of order."""
        return not self.lost and not self.duplicated and not self.disordered

    def row(self) -> tuple[str, ...]:
        """The table's cells for this fault."""
        recovery = "-" if self.recovery_seconds is None else f"{self.recovery_seconds:.1f} s"
        return (
            self.fault,
            self.done,
            str(self.acknowledged),
            str(len(self.lost)),
            str(len(self.duplicated)),
            str(len(self.disordered)),
            str(self.polite_errors),
            recovery,
        )


def duplicates(keys: Iterable[object]) -> list[str]:
    """The keys that occur more than once, each named once."""
    seen: set[object] = set()
    twice: set[object] = set()
    for key in keys:
        (twice if key in seen else seen).add(key)
    return sorted(str(key) for key in twice)


def table(results: Sequence[FaultResult]) -> str:
    """A Markdown table of the faults (it reads in a terminal and pastes into the README)."""
    rows = [HEADER, *(result.row() for result in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def details(results: Sequence[FaultResult]) -> str:
    """What was lost or repeated, by name, and each fault's notes."""
    lines = []
    for result in results:
        named = ("LOST", result.lost), ("DUPLICATED", result.duplicated)
        for label, keys in (*named, ("OUT OF ORDER", result.disordered)):
            if keys:
                lines.append(f"{result.fault}: {label} {', '.join(keys[:20])}")
        lines += [f"{result.fault}: {note}" for note in result.notes]
    return "\n".join(lines)
