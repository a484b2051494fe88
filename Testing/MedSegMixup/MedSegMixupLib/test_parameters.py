"""Parameter-node fields: types every Slicer parameter serializer handles, defaults, list fields."""

from __future__ import annotations

from dataclasses import fields
from types import SimpleNamespace

from MedSegMixupLib.parameters import ModuleState, PlainParameters, split_lines


def test_fields_are_plain_scalars_with_defaults():
    assert {f.type for f in fields(ModuleState)} <= {str, int, float, bool}
    names = [f.name for f in fields(ModuleState)]
    assert len(names) == len(set(names)) and all(name[0].islower() for name in names)
    assert all(type(f.default) is f.type for f in fields(ModuleState))


def test_state_from_a_wrapper_like_object_falls_back_to_defaults():
    state = ModuleState.from_object(SimpleNamespace(tta=True, device="cpu"))
    assert state.tta is True and state.device == "cpu" and state.windowPreset == ModuleState().windowPreset
    assert ModuleState(**state.to_dict()) == state


def test_list_fields_are_one_item_per_line():
    assert split_lines("a\n\n  \nb/c d\n") == ["a", "b/c d"]


class FakeScriptedModuleNode:
    """GetParameter/SetParameter as on vtkMRMLScriptedModuleNode (strings; "" when unset)."""

    def __init__(self):
        self.values: dict[str, str] = {}

    def GetParameter(self, name):
        return self.values.get(name, "")

    def SetParameter(self, name, value):
        assert isinstance(value, str)
        self.values[name] = value


def test_plain_parameters_round_trip_through_strings():
    node = FakeScriptedModuleNode()
    store = PlainParameters(node)
    assert store.tta is False and store.windowWidth == 350.0  # defaults while unset
    store.tta, store.windowWidth, store.ttaVariants, store.outputName = True, 420.5, 12, "kidneys"
    expected = {"tta": "true", "windowWidth": "420.5", "ttaVariants": "12", "outputName": "kidneys"}
    assert node.values == expected
    again = ModuleState.from_object(PlainParameters(node))
    assert (again.tta, again.windowWidth, again.ttaVariants, again.outputName) == (True, 420.5, 12, "kidneys")
