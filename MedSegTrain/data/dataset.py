"""The dataset model shared by every layout: cases, channel names, label values, regions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MR_CHANNEL_HINTS = ("MR", "T1", "T2", "FLAIR", "ADC", "DWI", "PD", "HBV", "SWI")


@dataclass(frozen=True)
class Case:
    """One subject: its image file(s) (one per channel, or one 4D file) and its label map (or None)."""

    case_id: str
    images: list[Path]
    label: Path | None


@dataclass
class Dataset:
    """A segmentation dataset read as-is from disk.

    ``labels`` maps name -> value and always holds ``background: 0``; ``regions`` (BraTS style,
    e.g. ``WT: [1, 2, 3]``) maps a region name to the label values it unites. ``modality`` is
    ``"CT"``, ``"MR"`` or ``"other"`` (derived from the channel names unless declared).
    ``layout`` says where it came from: ``msd``, ``nnunet-v1``, ``nnunet-v2`` or ``csv``.
    ``load_problems`` holds what reading the description found wrong (reported by validation).
    """

    root: Path
    name: str
    channel_names: list[str]
    labels: dict[str, int]
    training: list[Case]
    test: list[Case]
    regions: dict[str, list[int]] | None
    modality: str
    layout: str = "msd"
    source: Path | None = None
    declared_training: int | None = None
    load_problems: list[str] = field(default_factory=list)

    @property
    def n_channels(self) -> int:
        """Number of input channels per case."""
        return len(self.channel_names)

    @property
    def label_values(self) -> list[int]:
        """Declared label values, sorted (background included)."""
        return sorted(set(self.labels.values()))

    def case(self, case_id: str) -> Case:
        """The training or test case with this id (KeyError naming it otherwise)."""
        for case in self.training + self.test:
            if case.case_id == case_id:
                return case
        raise KeyError(f"no case '{case_id}' in dataset {self.name}")


def modality_from_channels(channel_names: list[str]) -> str:
    """``CT`` when any channel is CT, ``MR`` when the names look like MR sequences, else ``other``."""
    upper = [name.upper() for name in channel_names]
    if any(name == "CT" or name.startswith("CT") for name in upper):
        return "CT"
    if any(hint in name for name in upper for hint in MR_CHANNEL_HINTS):
        return "MR"
    return "other"


def relative_to(folder: Path, entry: str) -> Path:
    """``entry`` as written (absolute) or relative to ``folder``, normalised (``./`` and ``..`` folded)."""
    candidate = Path(entry)
    return candidate if candidate.is_absolute() else Path(os.path.normpath(folder / candidate))
