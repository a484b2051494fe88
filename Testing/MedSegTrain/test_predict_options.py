"""PredictOptions: frozen, checked once, errors naming the option; CLI wording through CLI_FLAGS."""

from __future__ import annotations

import argparse
import dataclasses
import math
import subprocess
import sys
from typing import Any

import pytest

from MedSegTrain.cli.predict import predict_options, register
from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.backends import BACKENDS
from MedSegTrain.inference.tta import MAX_VARIANTS_3D, tta_variants
from MedSegTrain.predict_options import BACKENDS as OPTION_BACKENDS
from MedSegTrain.predict_options import CLI_FLAGS, OptionError, PredictOptions


def test_defaults_match_predict_volume_and_validate_returns_self():
    options = PredictOptions()
    assert options.validate() is options
    assert (options.tta, options.batch_size, options.overlap, options.backend) == (0, 8, None, "torch")


def test_options_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PredictOptions().tta = 3  # type: ignore[misc]


@pytest.mark.parametrize(("change", "option", "words"), [
    ({"tta": 17}, "tta", "tta must be a whole number from 0 to 16, got 17"),
    ({"tta": True}, "tta", "tta must be a whole number from 0 to 16, got True"),
    ({"tta": -1}, "tta", "tta must be a whole number from 0 to 16, got -1"),
    ({"batch_size": 0}, "batch_size", "batch_size must be a whole number >= 1, got 0"),
    ({"batch_size": 2.0}, "batch_size", "batch_size must be a whole number >= 1, got 2.0"),
    ({"overlap": 1.0}, "overlap", "overlap must be in [0, 1), got 1.0"),
    ({"overlap": math.nan}, "overlap", "overlap must be in [0, 1), got nan"),
    ({"precision": "fp16"}, "precision", "precision must be one of auto, float32, float16, bfloat16"),
    ({"backend": "tensorrt"}, "backend", "backend must be one of torch, openvino, got 'tensorrt'"),
    ({"time_limit": 0.0}, "time_limit", "time_limit must be a positive number, got 0.0"),
    ({"max_memory_mb": math.inf}, "max_memory_mb", "max_memory_mb must be a positive number, got inf"),
    ({"device": ""}, "device", "device must be auto, cpu or cuda[:N], got ''"),
])
def test_a_wrong_value_names_the_option(change, option, words):
    with pytest.raises(OptionError) as caught:
        PredictOptions(**change).validate()
    assert caught.value.option == option
    assert str(caught.value).startswith(words)
    assert isinstance(caught.value, MedSegError)


def test_edges_are_accepted():
    PredictOptions(tta=16, overlap=0.0, batch_size=1, time_limit=1e-3, max_memory_mb=0.5).validate()


def test_for_cli_rewords_in_flags():
    with pytest.raises(OptionError) as caught:
        PredictOptions(max_memory_mb=-2.0).validate()
    assert str(caught.value.for_cli()) == "--max-memory must be a positive number, got -2.0"
    assert not isinstance(caught.value.for_cli(), OptionError)


def test_every_option_has_a_predict_flag():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    flags = {flag for action in parser._subparsers._group_actions[0].choices["predict"]._actions
             for flag in action.option_strings}
    assert set(CLI_FLAGS) == {f.name for f in dataclasses.fields(PredictOptions)}
    assert set(CLI_FLAGS.values()) <= flags


def test_limits_agree_with_the_inference_modules():
    assert OPTION_BACKENDS == BACKENDS
    assert MAX_VARIANTS_3D == 16 and len(tta_variants(16)) == 16


def test_importing_it_needs_no_torch():
    code = "import sys, MedSegTrain.predict_options; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _args(**change: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    argv = ["predict", "--bundle", "b", "--input", "i.nii.gz", "--output", "o.nii.gz"]
    return parser.parse_args(argv + [str(a) for pair in change.items() for a in pair])


def test_the_cli_builds_the_options_from_its_flags():
    options = predict_options(_args(**{"--tta": 3, "--batch-size": 2, "--overlap": 0.25, "--time-limit": 9,
                                       "--max-memory": 512}))
    assert options == PredictOptions(tta=3, batch_size=2, overlap=0.25, time_limit=9.0, max_memory_mb=512.0)


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--batch-size", 0, "--batch-size must be a whole number >= 1, got 0"),
    ("--max-memory", -5, "--max-memory must be a positive number, got -5.0"),
    ("--tta", 40, "--tta must be a whole number from 0 to 16, got 40"),
])
def test_the_cli_names_a_bad_value_by_its_flag(flag, value, words):
    with pytest.raises(MedSegError) as caught:
        predict_options(_args(**{flag: value}))
    assert str(caught.value) == words and not isinstance(caught.value, OptionError)
