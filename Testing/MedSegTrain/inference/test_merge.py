"""Merging two ensembles' label maps (B9): the BraTS paper's Table 1 cell by cell, table files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.merge import BRATS_MERGE_TABLE, MergeTable, load_merge_table, merge_label_maps

# Henry et al., Table 1: rows model B, columns model A (values 0, 1, 2, 4), typed from the paper
PAPER_TABLE = {0: [0, 1, 0, 4], 1: [0, 1, 2, 4], 2: [2, 1, 2, 4], 4: [0, 1, 2, 4]}


def test_brats_table_reproduces_every_cell_of_the_paper():
    values = [0, 1, 2, 4]
    a = np.array([va for _vb in values for va in values]).reshape(4, 4)
    b = np.array([vb for vb in values for _va in values]).reshape(4, 4)
    expected = np.array([PAPER_TABLE[vb] for vb in values])
    np.testing.assert_array_equal(merge_label_maps(a, b, BRATS_MERGE_TABLE), expected)


def test_hand_made_maps():
    # A keeps NET/ET; where A says background or edema, B's edema-vs-background decides
    a = np.array([[0, 2, 2, 1], [4, 0, 0, 2]])
    b = np.array([[2, 0, 2, 0], [0, 4, 1, 4]])
    expected = np.array([[2, 0, 2, 1], [4, 0, 0, 2]])
    np.testing.assert_array_equal(merge_label_maps(a, b), expected)


def test_unlisted_pairs_follow_the_default():
    table = MergeTable({(1, 2): 3}, default="b")
    merged = merge_label_maps(np.array([1, 1, 0]), np.array([2, 0, 5]), table)
    np.testing.assert_array_equal(merged, [3, 0, 5])
    fixed = MergeTable({(1, 1): 1}, default=0)
    np.testing.assert_array_equal(merge_label_maps(np.array([1, 1]), np.array([1, 2]), fixed), [1, 0])


def test_table_files_in_both_forms(tmp_path):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"a_values": [0, 1, 2, 4], "b_values": [0, 1, 2, 4],
                                "table": [PAPER_TABLE[v] for v in (0, 1, 2, 4)]}))
    assert load_merge_table(grid).rules == BRATS_MERGE_TABLE.rules
    rules = tmp_path / "rules.yaml"
    rules.write_text("default: a\nrules:\n  - [0, 2, 2]\n  - [2, 0, 0]\n")
    table = load_merge_table(rules)
    merged = merge_label_maps(np.array([0, 2, 1]), np.array([2, 0, 2]), table)
    np.testing.assert_array_equal(merged, [2, 0, 1])
    assert MergeTable.from_dict(table.to_dict()).rules == table.rules


@pytest.mark.parametrize(("content", "message"), [
    ('{"a_values": [0, 1], "b_values": [0], "table": [[0]]}', "grid must have"),
    ('{"rules": [[0, 1]]}', "malformed merge table"),
    ('{"rules": [], "default": "c"}', "default must be"),
    ("not json", "not valid JSON"),
])
def test_bad_table_files_are_refused(tmp_path, content, message):
    path = tmp_path / "t.json"
    path.write_text(content)
    with pytest.raises(MedSegError, match=message):
        load_merge_table(path)


def test_shapes_must_agree():
    with pytest.raises(MedSegError, match="differ in shape"):
        merge_label_maps(np.zeros((2, 2)), np.zeros((2, 3)))
