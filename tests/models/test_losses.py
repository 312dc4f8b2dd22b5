"""The flagship's catalog softmax: value and gradient against autograd's log-softmax, in float32 and bfloat16."""

from __future__ import annotations

import pytest
import torch

from fusionrec.models.losses import bf16_supported, info_nce, softmax_loss

ROWS, POSITIVES = torch.tensor([0, 0, 1, 3, 3, 3]), torch.tensor([5, 7, 0, 29, 1, 5])


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    users = torch.randn(4, 8, generator=generator, requires_grad=True)
    items = torch.randn(30, 8, generator=generator, requires_grad=True)
    return users, items


def _reference(
    users: torch.Tensor, items: torch.Tensor, rows: torch.Tensor = ROWS, positives: torch.Tensor = POSITIVES
) -> torch.Tensor:
    cosines = torch.nn.functional.normalize(users, dim=1) @ torch.nn.functional.normalize(items, dim=1).T
    return -torch.log_softmax(cosines / 0.2, dim=1)[rows, positives].mean()


def _value_and_grads(loss: torch.Tensor, *inputs: torch.Tensor) -> tuple[float, list[torch.Tensor]]:
    return float(loss.detach()), list(torch.autograd.grad(loss, inputs))


def _assert_matches_reference(users: torch.Tensor, items: torch.Tensor) -> None:
    """softmax_loss's value and gradients equal autograd's log-softmax on the same inputs."""
    value, grads = _value_and_grads(softmax_loss(users, items, ROWS, POSITIVES, 0.2), users, items)
    expected, expected_grads = _value_and_grads(_reference(users, items), users, items)
    assert value == pytest.approx(expected, abs=1e-5)
    for grad, reference in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, reference, atol=1e-6, rtol=1e-5)


def test_softmax_loss_and_its_gradient_equal_autograds_log_softmax() -> None:
    _assert_matches_reference(*_inputs())


def test_a_user_with_no_pair_gets_no_gradient() -> None:
    users, items = _inputs()
    (grad,) = torch.autograd.grad(softmax_loss(users, items, ROWS, POSITIVES, 0.2), [users])
    assert torch.all(grad[2] == 0), "row 2 has no positive pair"
    assert torch.all(grad[[0, 1, 3]].abs().sum(dim=1) > 0)


def test_bf16_scores_stay_close_to_float32() -> None:
    users, items = _inputs()
    value, grads = _value_and_grads(softmax_loss(users, items, ROWS, POSITIVES, 0.2, bf16=True), users, items)
    expected, expected_grads = _value_and_grads(_reference(users, items), users, items)
    assert value == pytest.approx(expected, rel=2e-2)
    for grad, reference in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, reference, atol=5e-3, rtol=5e-2)


def test_bf16_support_is_reported_as_a_bool() -> None:
    assert isinstance(bf16_supported(), bool)


def test_info_nce_is_low_for_aligned_views_and_high_for_shuffled_ones() -> None:
    views = torch.eye(6) * 5.0
    aligned = info_nce(views, views, 0.2)
    shuffled = info_nce(views, views[torch.tensor([1, 2, 3, 4, 5, 0])], 0.2)
    assert float(aligned) < 0.05 < 5.0 < float(shuffled)


def test_losses_built_before_one_backward_keep_their_own_buffers() -> None:
    """Members trained side by side build their losses first, then call backward once."""
    first_users, first_items = _inputs()
    second_users = torch.randn(4, 8, generator=torch.Generator().manual_seed(1), requires_grad=True)
    both = softmax_loss(first_users, first_items, ROWS, POSITIVES, 0.2) + softmax_loss(
        second_users, first_items, ROWS, POSITIVES, 0.2
    )
    grads = torch.autograd.grad(both, [first_users, second_users])
    expected = torch.autograd.grad(
        _reference(first_users, first_items) + _reference(second_users, first_items), [first_users, second_users]
    )
    for grad, reference in zip(grads, expected, strict=True):
        torch.testing.assert_close(grad, reference, atol=1e-6, rtol=1e-5)


def test_a_smaller_batch_after_a_larger_one_reuses_the_buffer_correctly() -> None:
    users, items = _inputs()
    large = torch.randn(64, 8, requires_grad=True)
    torch.autograd.grad(softmax_loss(large, items, torch.arange(64), torch.arange(64) % 30, 0.2), [large])
    _assert_matches_reference(users, items)


def test_losses_in_threads_each_get_the_right_gradient() -> None:
    """Models trained in threads of one process draw buffers from one pool."""
    from concurrent.futures import ThreadPoolExecutor

    def gradient(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        users = torch.randn(64, 8, generator=generator, requires_grad=True)
        items = torch.randn(300, 8, generator=generator)
        rows, positives = torch.arange(64), torch.arange(64) * 3
        (grad,) = torch.autograd.grad(softmax_loss(users, items, rows, positives, 0.2), [users])
        (expected,) = torch.autograd.grad(_reference(users, items, rows, positives), [users])
        return grad, expected

    with ThreadPoolExecutor(4) as pool:
        for grad, expected in pool.map(gradient, range(40)):
            torch.testing.assert_close(grad, expected, atol=1e-6, rtol=1e-5)
