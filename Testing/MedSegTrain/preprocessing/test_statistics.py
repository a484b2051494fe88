"""Dataset-level z-score statistics (C2 random sample, T6 whole training set)."""

from __future__ import annotations

import numpy as np
import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.io import Volume
from MedSegTrain.preprocessing.pipeline import PreprocessingSpec
from MedSegTrain.preprocessing.statistics import RunningMoments, fit_zscore_params, with_dataset_zscore
from MedSegTrain.preprocessing.windowing import get_preset

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def make_cases(n: int = 6) -> tuple[list, list[np.ndarray], list[int]]:
    rng = np.random.default_rng(0)
    arrays = [rng.normal(40 * i, 100 + 10 * i, (4 + i, 6, 7)).astype(np.float32) for i in range(n)]
    loaded: list[int] = []

    def loader(i: int):
        def load() -> list[Volume]:
            loaded.append(i)
            return [Volume(arrays[i], (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), IDENTITY)]

        return load

    return [loader(i) for i in range(n)], arrays, loaded


def test_whole_training_set_pooled_statistics_t6() -> None:
    cases, arrays, _ = make_cases()
    params = fit_zscore_params(PreprocessingSpec(), cases)
    pooled = np.concatenate([a.ravel() for a in arrays]).astype(np.float64)
    assert params["mean"] == [pytest.approx(pooled.mean(), rel=1e-9)]
    assert params["std"] == [pytest.approx(pooled.std(), rel=1e-9)]
    assert "all training cases" in params["source"]


def test_random_sample_c2_reads_only_the_sampled_cases_and_is_reproducible() -> None:
    cases, arrays, loaded = make_cases()
    params = fit_zscore_params(PreprocessingSpec(), cases, sample_size=3, rng=np.random.default_rng(7))
    chosen = sorted(loaded)
    assert len(chosen) == 3
    pooled = np.concatenate([arrays[i].ravel() for i in chosen]).astype(np.float64)
    assert params["mean"][0] == pytest.approx(pooled.mean(), rel=1e-9)
    assert params["std"][0] == pytest.approx(pooled.std(), rel=1e-9)
    again = fit_zscore_params(PreprocessingSpec(), cases, sample_size=3, rng=np.random.default_rng(7))
    assert again == params


def test_statistics_are_taken_after_windowing_and_feed_fixed_zscore() -> None:
    cases, arrays, _ = make_cases()
    spec = PreprocessingSpec(window=get_preset("ct-brain"))  # clip to [0, 100]
    tuned = with_dataset_zscore(spec, cases)
    pooled = np.clip(np.concatenate([a.ravel() for a in arrays]), 0, 100).astype(np.float64)
    assert tuned.normalization == "fixed-zscore"
    assert tuned.norm_params["mean"][0] == pytest.approx(pooled.mean(), rel=1e-6)
    out = tuned.prepare_image(cases[0]()).array[0]
    expected = (np.clip(arrays[0], 0, 100) - pooled.mean()) / pooled.std()
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert PreprocessingSpec.from_dict(tuned.to_dict()) == tuned


def test_running_moments_equal_numpy_on_chunks_with_nonzero() -> None:
    rng = np.random.default_rng(4)
    chunks = [rng.normal(1e4, 3.0, (2, 50)) for _ in range(5)]
    chunks[1][:, :20] = 0
    moments = RunningMoments()
    for chunk in chunks:
        moments.add(chunk, nonzero=True)
    pooled = np.concatenate(chunks, axis=1)
    for c in range(2):
        values = pooled[c][pooled[c] != 0]
        assert moments.mean[c] == pytest.approx(values.mean(), rel=1e-12)
        assert moments.std()[c] == pytest.approx(values.std(), rel=1e-9)


def test_errors() -> None:
    cases, _, _ = make_cases()
    with pytest.raises(MedSegError, match="no training cases"):
        fit_zscore_params(PreprocessingSpec(), [])
    with pytest.raises(MedSegError, match="Generator"):
        fit_zscore_params(PreprocessingSpec(), cases, sample_size=2)
