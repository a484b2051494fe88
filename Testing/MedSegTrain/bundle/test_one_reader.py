"""model.json has one reader: only MedSegTrain/bundle/store.py decodes it (and hands the document to
the one parser, MedSegTrain.bundle.meta.parse_meta). An AST walk over the backend and the Slicer
module finds every module that both decodes JSON and names model.json other than in a message."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DECODERS = {"load", "loads", "parse_json", "read_json", "_read_json", "read_json_file"}


def _is_decode(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in DECODERS:
        return False
    if name in ("load", "loads") and not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                                          and func.value.id == "json"):
        return False  # e.g. safetensors' load, yaml.safe_load
    first = node.args[0] if node.args else None
    is_copy = (isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute)
               and first.func.attr == "dumps")
    return not is_copy  # json.loads(json.dumps(...)) is a deep copy, not a read


def _names_model_json(tree: ast.AST) -> bool:
    in_messages = {id(n) for j in ast.walk(tree) if isinstance(j, ast.JoinedStr) for n in ast.walk(j)}
    for node in ast.walk(tree):
        if id(node) in in_messages:
            continue
        if isinstance(node, ast.Constant) and node.value == "model.json":
            return True
        if isinstance(node, ast.Name) and node.id == "MODEL_JSON":
            return True
        if isinstance(node, ast.Attribute) and node.attr == "MODEL_JSON":
            return True
    return False


def _reads(source: str) -> bool:
    tree = ast.parse(source)
    return any(isinstance(n, ast.Call) and _is_decode(n) for n in ast.walk(tree)) and _names_model_json(tree)


def readers_of_model_json() -> set[str]:
    found = set()
    for folder in ("MedSegTrain", "MedSegMixup/MedSegMixupLib", "MedSegMixup/MedSegMixup.py"):
        paths = [ROOT / folder] if folder.endswith(".py") else sorted((ROOT / folder).rglob("*.py"))
        for path in paths:
            if _reads(path.read_text(encoding="utf-8")):
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_the_walk_recognises_a_reader() -> None:
    assert _reads("import json\nmeta = json.loads((folder / 'model.json').read_text())")
    assert _reads("from x import MODEL_JSON, parse_json\nmeta = parse_json(open(MODEL_JSON).read(), 'w')")
    assert not _reads("import json\nraise ValueError(f'{p}: model.json is broken')\njson.loads(t)")
    assert not _reads("import json\nMODEL_JSON = 'model.json'\ncopy = json.loads(json.dumps(d))")


def test_model_json_is_decoded_in_one_module() -> None:
    assert readers_of_model_json() == {"MedSegTrain/bundle/store.py"}


def test_the_store_hands_the_document_to_the_one_parser() -> None:
    tree = ast.parse((ROOT / "MedSegTrain/bundle/store.py").read_text(encoding="utf-8"))
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"parse_json", "parse_meta"} <= calls
    # the parsers that existed before issue 13 are gone
    methods = {(c.name, f.name) for p in (ROOT / "MedSegTrain").rglob("*.py")
               for c in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(c, ast.ClassDef)
               for f in c.body if isinstance(f, ast.FunctionDef)}
    assert not {("OutputSpec", "from_meta"), ("InferenceSettings", "from_meta")} & methods
