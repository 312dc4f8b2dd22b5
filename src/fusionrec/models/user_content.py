"""The user side of content: each user's content (an embedded profile) projected into the layer-0 space.

A model that learns user vectors adds :class:`UserContentPath`'s output to
its user ID embeddings, so a user's layer-0 vector is ``ID + W x content``
(zero for masked users, who keep their ID alone). Users with little history
have an ID embedding that training barely moved; their content places them
instead. :func:`user_alignment` is RLMRec's alignment (Ren et al., WWW 2024):
a symmetric InfoNCE between the projected content of a batch's users and
their behaviour (ID) embeddings, so the projection learns what behaviour says
about a user from what the profile says.

The content comes from ``split.user_content``
(:class:`~fusionrec.data.dataset.UserContent`, made from the training part
only, e.g. by :func:`fusionrec.llm.user_profiles.user_content`); settings are
one :class:`UserContentConfig`.

Example:
    >>> config = UserContentConfig(align_weight=0.1)
    >>> path = build_user_content_path(split, config, dim=64)  # doctest: +SKIP
    >>> users = with_user_content(user_embedding, path)  # (n_users, 64)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from pydantic import ValidationError
from torch import nn

from fusionrec.errors import ConfigError
from fusionrec.models.fusion_graph_config import UserContentConfig
from fusionrec.models.losses import info_nce

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split, UserContent

#: Fewest users with content in a batch for the alignment term (InfoNCE needs negatives).
MIN_ALIGNED_USERS = 2


def user_content_config(value: UserContentConfig | dict[str, Any] | None) -> UserContentConfig | None:
    """The path's config from a model parameter: None = off, a dict = its settings (validated)."""
    if value is None or isinstance(value, UserContentConfig):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"user_content is {value!r}; a table of settings (e.g. {{align_weight = 0.1}}) or none")
    try:
        return UserContentConfig.model_validate(value)
    except ValidationError as exc:
        raise ConfigError(
            f"user_content has invalid settings {value}: {exc.errors()[0]['msg']} "
            f"at {exc.errors()[0]['loc']}; allowed: {sorted(UserContentConfig.model_fields)}"
        ) from exc


class UserContentPath(nn.Module):
    """A linear projection of each user's content into the model's space; masked users get zero.

    Args:
        content: the users' content (float32 (n_users, d_content) values and a bool (n_users,) mask).
        dim: the model's vector size.
        config: the path's settings.
    """

    values: torch.Tensor
    mask: torch.Tensor

    def __init__(self, content: UserContent, dim: int, config: UserContentConfig) -> None:
        super().__init__()
        self.config = config
        self.projection = nn.Linear(content.dim, dim, bias=False)
        nn.init.normal_(self.projection.weight, std=config.init_std / content.dim**0.5)
        self.dropout = nn.Dropout(config.dropout)
        self.register_buffer("values", torch.from_numpy(content.values), persistent=False)  # (n_users, d_content)
        self.register_buffer("mask", torch.from_numpy(content.mask).float()[:, None], persistent=False)  # (n_users, 1)

    def forward(self) -> torch.Tensor:
        """float (n_users, dim): projected content, zero for masked users."""
        return self.projection(self.dropout(self.values)) * self.mask

    def alignment(self, users: torch.Tensor, behaviour: torch.Tensor) -> torch.Tensor:
        """InfoNCE between the projected content of ``users`` that have content and their ``behaviour`` rows.

        Args:
            users: int64 (b,) user indices of the batch.
            behaviour: float (n_users, dim) behaviour (ID) embeddings.

        Returns:
            A scalar; 0 when fewer than :data:`MIN_ALIGNED_USERS` of the batch have content.
        """
        with_content = users[self.mask[users, 0] > 0]
        if len(with_content) < MIN_ALIGNED_USERS:
            return behaviour.new_zeros(())
        projected = self.projection(self.dropout(self.values[with_content]))  # (m, dim)
        return info_nce(projected, behaviour[with_content], self.config.temperature)


def build_user_content_path(split: Split, config: UserContentConfig | None, dim: int) -> UserContentPath | None:
    """The path for ``split``'s user content, or None when ``config`` is None (off).

    Raises:
        ConfigError: the path is on but the split has no user content (naming the fix).
    """
    if config is None:
        return None
    content = split.user_content
    if content is None:
        raise ConfigError(
            "user_content is set but the split has no user content; make it from the training part "
            "(fusionrec.llm.profile_users + user_content, or a [user_profiles] table) or leave user_content out"
        )
    if not content.mask.any():
        raise ConfigError(f"{content.source}: no user has usable content (all {len(content.mask):,} masked)")
    return UserContentPath(content, dim, config)


def with_user_content(user_embedding: torch.Tensor, path: UserContentPath | None) -> torch.Tensor:
    """Layer-0 user vectors (n_users, dim): the ID embeddings plus the projected content (when a path is set)."""
    return user_embedding if path is None else user_embedding + path()


def user_alignment(path: UserContentPath | None, users: torch.Tensor, user_embedding: torch.Tensor) -> torch.Tensor:
    """``align_weight`` x the path's alignment for the batch ``users``; 0 without a path or weight."""
    if path is None or not path.config.align_weight:
        return user_embedding.new_zeros(())
    return path.config.align_weight * path.alignment(users, user_embedding)
