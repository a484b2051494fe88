"""Dataset-level intensity statistics for ``fixed-zscore`` normalisation (C2, T6).

C2 (Kloenne et al.) standardises with the mean and sd of a *random sample* of the training
cases — what a clinic has — rather than of the whole set; T6 (Touijer et al.) with the whole
training set's mean and sd. Both are pooled over voxels (not an average of per-case means),
computed after the spec's own windowing/N4/crop/resampling so they describe the network input,
and merged case by case with Chan et al.'s parallel update in float64 (one pass, no voxel pool).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from MedSegTrain.errors import MedSegError
from MedSegTrain.io import Volume
from MedSegTrain.preprocessing.pipeline import PreprocessingSpec

CaseLoader = Callable[[], Sequence[Volume]]


@dataclass
class RunningMoments:
    """Pooled count, mean and sum of squared deviations per channel, mergeable chunk by chunk."""

    count: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    m2: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, channels: np.ndarray, nonzero: bool = False) -> None:
        """Add one case ``(C, ...)``; with ``nonzero`` only its non-zero voxels count."""
        stack = np.asarray(channels)
        counts, means, m2s = [], [], []
        for channel in stack:
            values = channel[channel != 0] if nonzero else channel.reshape(-1)
            n = values.size
            mu = float(values.mean(dtype=np.float64)) if n else 0.0
            counts.append(n)
            means.append(mu)
            m2s.append(float(np.var(values, dtype=np.float64)) * n if n else 0.0)
        self._merge(np.array(counts, float), np.array(means), np.array(m2s))

    def _merge(self, n_b: np.ndarray, mean_b: np.ndarray, m2_b: np.ndarray) -> None:
        if self.count.size == 0:
            self.count, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        if n_b.size != self.count.size:
            raise MedSegError(f"statistics: a case has {n_b.size} channels, earlier ones {self.count.size}")
        total = self.count + n_b
        safe = np.where(total > 0, total, 1.0)
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / safe
        self.m2 = self.m2 + m2_b + delta**2 * self.count * n_b / safe
        self.count = total

    def std(self) -> np.ndarray:
        """Population standard deviation per channel."""
        return np.sqrt(self.m2 / np.where(self.count > 0, self.count, 1.0))


def choose_cases(n_cases: int, sample_size: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``sample_size`` cases drawn without replacement (all when None or larger)."""
    if n_cases < 1:
        raise MedSegError("statistics: no training cases given")
    if sample_size is None or sample_size >= n_cases:
        return np.arange(n_cases)
    if sample_size < 1:
        raise MedSegError(f"statistics sample size: must be >= 1, got {sample_size}")
    return np.sort(rng.choice(n_cases, size=sample_size, replace=False))


def fit_zscore_params(
    spec: PreprocessingSpec,
    cases: Sequence[CaseLoader],
    sample_size: int | None = None,
    rng: np.random.Generator | None = None,
    nonzero: bool = False,
) -> dict[str, Any]:
    """``norm_params`` for ``fixed-zscore``: per-channel mean/std of the preprocessed training cases.

    ``cases`` are callables returning a case's channel volumes (loaded lazily, so only the
    sampled ones are read). ``sample_size`` None uses every case (T6); a number draws that many
    at random with ``rng`` (C2). Statistics are taken after windowing/N4/crop/resampling and
    before any padding.
    """
    if sample_size is not None and rng is None:
        raise MedSegError("statistics: a random sample needs a numpy.random.Generator")
    chosen = choose_cases(len(cases), sample_size, rng if rng is not None else np.random.default_rng(0))
    raw = dataclasses.replace(spec, normalization="none", norm_params={}, pad_multiple=1, fixed_size=None)
    moments = RunningMoments()
    for index in chosen:
        moments.add(raw.prepare_image(cases[int(index)]()).array, nonzero=nonzero)
    if np.any(moments.count == 0):
        raise MedSegError("statistics: a channel has no voxels to measure (all zero with nonzero=True?)")
    std = moments.std()
    if np.any(std <= 0):
        raise MedSegError("statistics: a channel is constant over the sampled cases (std 0)")
    what = (
        "all training cases"
        if len(chosen) == len(cases)
        else f"a random sample of {len(chosen)} training cases"
    )
    return {
        "mean": [float(v) for v in moments.mean],
        "std": [float(v) for v in std],
        "source": f"{what} of {len(cases)}{' (non-zero voxels)' if nonzero else ''}",
    }


def with_dataset_zscore(
    spec: PreprocessingSpec,
    cases: Sequence[CaseLoader],
    sample_size: int | None = None,
    rng: np.random.Generator | None = None,
    nonzero: bool = False,
) -> PreprocessingSpec:
    """``spec`` switched to ``fixed-zscore`` with statistics from :func:`fit_zscore_params`."""
    params = fit_zscore_params(spec, cases, sample_size, rng, nonzero)
    return dataclasses.replace(spec, normalization="fixed-zscore", norm_params=params)
