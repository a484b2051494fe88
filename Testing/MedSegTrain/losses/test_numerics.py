"""Every loss: float64 gradcheck, extreme logits, reduced-precision autocast, inputs untouched, and
where the minimum sits for soft (mixup) targets — checked by optimising p."""

from __future__ import annotations

import pytest
import torch

from MedSegTrain.losses import get_loss, list_losses

from .conftest import TARGET_KINDS

ALL = list_losses()
# FORMULAS.md / the docstrings: these have their minimum at p = g for soft g; the others do not.
MINIMUM_AT_TARGET = {"ce", "topk_ce", "dice_squared", "tanimoto", "tanimoto_ce"}


def _activation(kind: str) -> str:
    return "sigmoid" if kind.startswith("sigmoid") else "softmax"


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("name", ALL)
def test_gradcheck_float64(case, name, kind):
    logits, target = case(
        11, shape=(2, 3, 3, 4), soft=kind.endswith("soft"), sigmoid=kind.startswith("sigmoid")
    )
    loss = get_loss(name, activation=_activation(kind))
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (logits,), eps=1e-6, atol=1e-7)


REGION_NAMES = ["dice", "dice_squared", "tversky", "focal_tversky", "cosine_tversky", "tanimoto", "combo"]


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("options", [{"batch": False}, {"include_background": False}], ids=str)
@pytest.mark.parametrize("name", REGION_NAMES)
def test_gradcheck_region_options(case, name, options, kind):
    """The hand-written backward of the region sums, per sample and without channel 0."""
    sigmoid = kind.startswith("sigmoid")
    logits, target = case(16, shape=(2, 3, 3, 4), soft=kind.endswith("soft"), sigmoid=sigmoid)
    loss = get_loss(name, activation=_activation(kind), smooth=0.5, **options)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (logits,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("name", ALL)
def test_extreme_logits_stay_finite(case, ref, name, kind):
    """Logits of +-100 in float32: finite loss equal to the float64 reference, finite gradient."""
    sigmoid = kind.startswith("sigmoid")
    _, target = case(12, shape=(2, 3, 4, 5), soft=kind.endswith("soft"), sigmoid=sigmoid)
    signs = torch.randint(0, 2, (2, 3, 4, 5), generator=torch.Generator().manual_seed(1)) * 2 - 1
    logits = (100.0 * signs).float().requires_grad_(True)
    params = {"activation": _activation(kind)}
    value = get_loss(name, **params)(logits, target.float() if target.is_floating_point() else target)
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(logits.grad).all()
    expected = ref.REFERENCES[name](logits.detach().double().numpy(), target.numpy(), **params)
    assert float(value.detach()) == pytest.approx(expected, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_perfect_and_saturated_predictions_have_finite_gradients(name):
    """p exactly 0/1 in float32 where the target agrees: powers with exponents < 1 must not give NaN."""
    target = torch.tensor([[[0, 1, 2, 1]]])
    logits = (torch.nn.functional.one_hot(target[:, 0], 3).movedim(-1, 1).float() * 200 - 100).requires_grad_(
        True
    )
    for params in ({}, {"gamma": 0.5} if name in {"focal", "cosine_tversky", "focal_tversky"} else {}):
        value = get_loss(name, **params)(logits, target)
        (grad,) = torch.autograd.grad(value, logits)
        assert torch.isfinite(value)
        assert torch.isfinite(grad).all()


@pytest.mark.parametrize("name", ALL)
def test_bfloat16_autocast_is_finite_and_close(case, name):
    logits, target = case(13, shape=(2, 3, 6, 6), dtype=torch.float32)
    layer = torch.nn.Conv2d(3, 3, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = layer(logits)
        assert low.dtype == torch.bfloat16
        value = get_loss(name)(low, target)
    assert value.dtype == torch.float32
    value.backward()
    assert torch.isfinite(value)
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
    full = get_loss(name)(low.detach().float(), target)
    assert float(value.detach()) == pytest.approx(float(full), rel=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_float16_logits_at_extremes_are_finite(case, name):
    """fp16 autocast on CPU is not available everywhere; fp16 logits themselves must still work."""
    _, target = case(14, shape=(2, 3, 6, 6))
    logits = torch.full((2, 3, 6, 6), -100.0, dtype=torch.float16)
    logits[:, 1] = 100.0
    logits.requires_grad_(True)
    value = get_loss(name)(logits, target)
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name", ALL)
def test_inputs_are_not_modified(case, name):
    logits, target = case(15, soft=True)
    before = (logits.clone(), target.clone())
    get_loss(name)(logits, target)
    assert torch.equal(logits, before[0])
    assert torch.equal(target, before[1])


@pytest.mark.parametrize("name", ALL)
def test_where_the_soft_target_minimum_sits(name):
    """Optimise free logits against a soft two-class target: p -> g exactly for the losses whose
    minimum is at the target, and visibly elsewhere for the others (mixup caution)."""
    g1 = torch.tensor([0.1, 0.3, 0.45, 0.6, 0.8, 0.95], dtype=torch.float64)
    target = torch.stack([1 - g1, g1]).unsqueeze(0)  # (1, 2, 6), on the simplex
    logits = torch.zeros(1, 2, 6, dtype=torch.float64, requires_grad=True)
    params = {"k_fraction": 1.0} if name == "topk_ce" else {}
    loss = get_loss(name, **params)
    optimiser = torch.optim.LBFGS(
        [logits],
        lr=1,
        max_iter=300,
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        value = loss(logits, target)
        value.backward()
        return value

    optimiser.step(closure)
    distance = float((torch.softmax(logits.detach(), 1)[:, 1] - g1).abs().max())
    if name in MINIMUM_AT_TARGET:
        assert distance < 1e-4
    else:
        assert distance > 0.05
