"""Parameter-node fields: types every Slicer parameter serializer handles, defaults, list fields."""

from __future__ import annotations

from types import SimpleNamespace

from MedSegMixupLib.parameters import FIELDS, ModuleState, split_lines


def test_fields_are_plain_scalars_with_defaults():
    assert {kind for _name, kind, _default in FIELDS} <= {str, int, float, bool}
    names = [name for name, _kind, _default in FIELDS]
    assert len(names) == len(set(names)) and all(name[0].islower() for name in names)
    assert all(isinstance(default, kind) for _name, kind, default in FIELDS)


def test_state_from_a_wrapper_like_object_falls_back_to_defaults():
    state = ModuleState.from_object(SimpleNamespace(tta=True, device="cpu"))
    assert state.tta is True and state.device == "cpu" and state.windowPreset == ModuleState().windowPreset
    assert ModuleState(**state.to_dict()) == state


def test_list_fields_are_one_item_per_line():
    assert split_lines("a\n\n  \nb/c d\n") == ["a", "b/c d"]
