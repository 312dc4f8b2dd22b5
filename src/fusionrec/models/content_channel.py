"""The flagship's fixed content-similarity channel: a content-kNN score appended as extra vector columns.

With weight ``w`` the score of user ``u`` and item ``j`` gains
``w * fade_j * profile_u . c_j``: ``c_j`` is the item's fixed unit content
vector (:class:`~fusionrec.models.content_knn.ContentSpace`), ``profile_u``
the mean of those of the user's training items, so the product is the mean
content similarity between ``j`` and the user's history. Nothing here is
learned; it is rebuilt from the data on every fit and load.

``fade_j = c / (c + d_j)`` (``d_j``: the item's training interactions,
``c``: the ``prior``) lets content speak for the items behaviour knows little
about and fall silent where behaviour has spoken: on TikTok the learned
model ranks targets seen 0-2 times in training near random while content
similarity alone finds several times as many of them. Without a prior
every item keeps the full channel. Items without interactions, and new
items placed from content, always keep all of it.

Example:
    >>> channel = ContentChannel.build(split, weight=0.2, prior=10.0)  # doctest: +SKIP
    >>> users = np.hstack([learned_users, channel.user_columns()])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fusionrec.models.content import interaction_fade
from fusionrec.models.content_knn import ContentSpace

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


@dataclass
class ContentChannel:
    """Fixed content columns of users and items; their product is the weighted, faded content similarity.

    Attributes:
        space: the fitted content space (standardisation statistics of the catalog).
        weight: ``w``, the channel's weight in the score.
        profiles: float32 (n_users, D) mean content vector of each user's training items.
        items: float32 (n_items, D) item content vectors, each times its fade.
        fade: float32 (n_items, 1) ``c / (c + d_j)``; None = no prior (all ones).
    """

    space: ContentSpace
    weight: float
    profiles: np.ndarray
    items: np.ndarray
    fade: np.ndarray | None

    @classmethod
    def build(cls, split: Split, weight: float, prior: float = 0.0) -> ContentChannel:
        """The channel of ``split``'s catalog and training interactions (``prior`` 0 = no fade)."""
        dataset = split.dataset
        masks = dataset.all_feature_masks()
        space = ContentSpace(dataset.features, masks)
        content = space.transform(dataset.features, masks)  # (n_items, D)
        train = split.train.to_csr()
        counts = np.maximum(np.diff(train.indptr), 1).astype(np.float32)
        profiles = np.asarray(train @ content, dtype=np.float32) / counts[:, None]  # (n_users, D)
        fade = interaction_fade(split, prior) if prior > 0 else None  # (n_items, 1)
        if fade is not None:
            content = content * fade
        return cls(space, weight, profiles, content, fade)

    def user_columns(self) -> np.ndarray:
        """float32 (n_users, D): ``w x`` each user's profile."""
        return (np.float32(self.weight) * self.profiles).astype(np.float32)

    def new_item_columns(self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> np.ndarray:
        """float32 (n, D) columns of items known only by content (no interactions: no fade)."""
        return self.space.transform(features, masks)

    def item_blocks(self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{modality: float32 (n_items, D)}`` parts of the catalog's item columns; they sum to :attr:`items`."""
        blocks = self.space.blocks(features, masks)
        if self.fade is None:
            return blocks
        return {name: block * self.fade for name, block in blocks.items()}
