"""The module's GUI state as plain fields: what Slicer's parameter node stores (``parameterNodeWrapper``).

Kept Slicer-independent so the panels can save and restore their state in tests; the Slicer glue
builds its ``parameterNodeWrapper`` class from :data:`FIELDS`, so a scene saved with the module
open reopens with the same choices. Lists (bundle paths, input volumes) are stored one per line,
which every Slicer version's scalar serializers handle.
"""

from dataclasses import asdict, dataclass, fields


@dataclass
class ModuleState:
    """Every user choice of the four panels."""

    windowPreset: str = "ct-abdomen"
    windowWidth: float = 350.0
    windowLevel: float = 40.0
    bundlePaths: str = ""
    inputVolumes: str = ""
    tta: bool = False
    ttaVariants: int = 8
    device: str = "auto"
    uncertainty: bool = False
    clipToWindow: bool = False
    outputName: str = "prediction"
    referenceSegmentation: str = ""
    predictionSegmentation: str = ""

    def to_dict(self) -> dict:
        """Field name -> value."""
        return asdict(self)

    @classmethod
    def from_object(cls, source) -> "ModuleState":
        """Read the fields from any object with these attributes (e.g. a parameter-node wrapper)."""
        return cls(**{f.name: getattr(source, f.name, f.default) for f in fields(cls)})


FIELDS = tuple((f.name, f.type, f.default) for f in fields(ModuleState))


def split_lines(text: str) -> list[str]:
    """The non-empty lines of a list field."""
    return [line for line in text.splitlines() if line.strip()]
