"""Connecting to Ray: a cluster's address, or a local one started in this process.

``address`` is what ``--ray-address`` takes: ``"local"`` starts Ray inside
this process (no cluster needed; workers are processes on this machine),
``"auto"`` joins the cluster this machine belongs to (``ray start --head``
ran here), and ``"ray://host:10001"`` or ``"host:6379"`` joins a remote one.
Workers import fusionrec themselves, so every node needs the same fusionrec
installed (``pip install 'fusionrec[ray]'``).

Example:
    >>> connect("local")  # doctest: +SKIP
    'local'
"""

from __future__ import annotations

import logging
import os

from fusionrec.errors import ConfigError

try:
    import ray
except ImportError as exc:  # the extra is optional; say how to get it
    raise ConfigError(
        "fusionrec's Ray jobs need the ray extra, which is not installed: pip install 'fusionrec[ray]'"
    ) from exc

logger = logging.getLogger(__name__)

LOCAL = "local"


def connect(address: str) -> str:
    """Join the Ray cluster at ``address`` (``"local"``, ``"auto"``, ``"ray://..."`` or ``"host:port"``).

    Does nothing when this process is already connected. Returns ``address``.

    Raises:
        ConfigError: the address is empty, or no cluster answers there.
    """
    if not address.strip():
        raise ConfigError("ray address is empty; pass 'local', 'auto', 'ray://HOST:10001' or 'HOST:6379'")
    if ray.is_initialized():
        return address
    try:
        if address == LOCAL:
            ray.init(include_dashboard=False, runtime_env=_worker_environment(), logging_level=logging.WARNING)
        else:
            ray.init(address=address, runtime_env=_worker_environment(), logging_level=logging.WARNING)
    except ConnectionError as exc:
        raise ConfigError(
            f"no Ray cluster answers at {address!r} ({exc}); start one with `ray start --head`, "
            "or pass --ray-address local to run Ray inside this process"
        ) from exc
    logger.info("connected to Ray at %s: %s", address, ray.cluster_resources())
    return address


def cluster_cpus() -> int:
    """CPUs of the connected cluster (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _worker_environment() -> dict[str, dict[str, str]]:
    """Environment variables the workers inherit: fusionrec's data and cache folders, and its import path."""
    names = ("FUSIONREC_DATA", "FUSIONREC_CACHE", "PYTHONPATH")
    values = {name: _absolute_paths(name, os.environ[name]) for name in names if os.environ.get(name)}
    return {"env_vars": values} if values else {}


def _absolute_paths(name: str, value: str) -> str:
    """A path list made absolute: workers do not run in this process's folder."""
    if name != "PYTHONPATH":
        return os.path.abspath(value)
    return os.pathsep.join(os.path.abspath(part) for part in value.split(os.pathsep) if part)


__all__ = ["LOCAL", "cluster_cpus", "connect"]
