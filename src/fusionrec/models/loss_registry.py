"""The flagship's ranking loss, chosen by name: a public extension point.

A loss is a callable with the :class:`CatalogLoss` signature: the final
vectors of a batch's users and of the softmax's catalog, the positive
pairs, and the ``[model.params.loss]`` table (:class:`~fusionrec.models.fusion_graph_config.LossConfig`,
whose ``options`` carry a custom loss's own settings). It returns a
scalar tensor. Built-in: ``"softmax"``, the full softmax over the catalog
(:func:`fusionrec.models.losses.catalog_softmax`). Register your own with
:func:`register_loss` before the model is built (e.g. at the top of the
script that trains it); then ``[model.params.loss] name = "yours"``
selects it. Registered names are checked when a config is validated.

Example:
    >>> import torch.nn.functional as F
    >>> def dot_softmax(users, items, rows, positives, settings):
    ...     logits = users[rows] @ items.T / settings.temperature
    ...     return F.cross_entropy(logits, positives)
    >>> register_loss("dot-softmax", dot_softmax)
    >>> "dot-softmax" in loss_names()
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from fusionrec.models.registry import Registry

if TYPE_CHECKING:
    import torch

    from fusionrec.models.fusion_graph_config import LossConfig


class CatalogLoss(Protocol):
    """A ranking loss over a catalog of items."""

    def __call__(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        rows: torch.Tensor,
        positives: torch.Tensor,
        settings: LossConfig,
    ) -> torch.Tensor:
        """Scalar loss of one batch.

        Args:
            users: float (batch, d) final vectors of the batch's users.
            items: float (n_catalog, d) final vectors of the catalog (see ``LossConfig.negatives``).
            rows: int64 (m,) row of ``users`` of each training pair.
            positives: int64 (m,) row of ``items`` of each training pair.
            settings: the loss's table (temperature, bf16_scores, options).
        """
        ...


_LOSSES = Registry[CatalogLoss]("loss", {"softmax": "fusionrec.models.losses:catalog_softmax"}, "register_loss")


def register_loss(name: str, loss: CatalogLoss) -> None:
    """Make ``loss`` selectable as ``loss.name = name``; a name already taken is refused."""
    _LOSSES.register(name, loss)


def unregister_loss(name: str) -> None:
    """Remove a loss registered with :func:`register_loss` (built-in losses stay)."""
    _LOSSES.unregister(name)


def loss_names() -> frozenset[str]:  # reads as the constant it stands for
    """The registered loss names."""
    return _LOSSES.names()


def get_loss(name: str) -> CatalogLoss:
    """The loss registered as ``name`` (a built-in is imported on first use)."""
    return _LOSSES.get(name)


__all__ = ["CatalogLoss", "get_loss", "loss_names", "register_loss", "unregister_loss"]
