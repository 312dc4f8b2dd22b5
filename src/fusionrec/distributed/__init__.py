"""The same jobs on Ray (the optional ``ray`` extra: ``pip install 'fusionrec[ray]'``).

* :mod:`~fusionrec.distributed.cluster` - :func:`connect` to a cluster (``"local"``, ``"auto"``, ``"ray://..."``).
* :mod:`~fusionrec.distributed.ray_encode` - :func:`encode_dataset_on_ray`: Ray Data, an actor pool per
  encoder, results in the feature cache.
* :mod:`~fusionrec.distributed.ray_train` - :class:`RayTrainingLoop`: data-parallel training of any torch
  model with Ray Train (gradients all-reduced, users sharded by rank), checkpointed and resumable.
* :mod:`~fusionrec.distributed.ray_eval` - :func:`evaluate_sharded`: users in shards ranked by Ray tasks.

Names load their module (and ray) on first use (``lazy_loader``), so importing this package is free.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
