"""The module's GUI state as plain fields: what Slicer's parameter node stores.

Kept Slicer-independent so the panels can save and restore their state in tests. Inside Slicer the
fields are string parameters of the module's scripted-module node (:class:`PlainParameters`:
``GetParameter``/``SetParameter``, the same on every Slicer version), so a scene saved with the
module open reopens with the same choices. Lists (bundle paths, input volume node IDs) are stored
one per line.
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
    timeLimit: bool = False
    timeLimitSeconds: int = 300
    uncertainty: bool = False
    clipToWindow: bool = False
    show3D: bool = False
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


def split_lines(text: str) -> list[str]:
    """The non-empty lines of a list field."""
    return [line for line in text.splitlines() if line.strip()]


class PlainParameters:
    """The fields as strings on a scripted module node (``GetParameter``/``SetParameter``)."""

    def __init__(self, node) -> None:
        object.__setattr__(self, "_node", node)

    def __getattr__(self, name: str):
        defaults = ModuleState()
        if not hasattr(defaults, name):
            raise AttributeError(name)
        default = getattr(defaults, name)
        text = self._node.GetParameter(name)
        if not text:
            return default
        if isinstance(default, bool):
            return text == "true"
        return type(default)(text)

    def __setattr__(self, name: str, value) -> None:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        self._node.SetParameter(name, text)
