from .cluster import LOCAL, cluster_cpus, connect
from .ray_encode import encode_dataset_on_ray
from .ray_eval import evaluate_sharded
from .ray_train import RayTrainConfig, RayTrainingLoop

__all__ = [
    "LOCAL",
    "RayTrainConfig",
    "RayTrainingLoop",
    "cluster_cpus",
    "connect",
    "encode_dataset_on_ray",
    "evaluate_sharded",
]
