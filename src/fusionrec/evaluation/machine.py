"""What a benchmark ran on: the facts that change its figures or its timings.

The flagship's training product runs in bfloat16 where the CPU multiplies it
natively (:func:`~fusionrec.models.losses.bf16_supported`), so the same
recipe and seed can read slightly differently on two CPUs, and timings only
compare on one machine. Every benchmark result records this, and the ablation
refuses to set a reused run beside variants trained on another kind of
machine.

Example:
    >>> sorted(machine_info())
    ['bf16_product', 'cores', 'cpu', 'torch']
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

#: The keys two runs must share for their figures to sit in one table (timings need the same machine too).
SAME_FIGURES_KEYS = ("cpu", "bf16_product", "torch")


def machine_info() -> dict[str, Any]:
    """{cpu: model name, cores: logical CPUs, bf16_product: bool, torch: version}."""
    # The one deferred import of this package: losses imports torch (seconds), and the benchmark runner,
    # which imports this module, is reached from commands that train nothing.
    from fusionrec.models.losses import bf16_supported  # noqa: PLC0415

    return {"cpu": cpu_name(), "cores": os.cpu_count(), "bf16_product": bf16_supported(), "torch": version("torch")}


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (Linux: /proc/cpuinfo's first ``model name``; elsewhere the platform's word)."""
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def machine_differences(recorded: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    """``key: recorded -> current`` for each of SAME_FIGURES_KEYS that differs (all of them when nothing is recorded).

    Example:
        >>> machine_differences({"cpu": "A", "bf16_product": True, "torch": "2"}, {"cpu": "A", "bf16_product": False,
        ...                      "torch": "2"})
        ['bf16_product: True -> False']
    """
    if not recorded:
        return ["no machine recorded (a run saved before runs recorded their machine)"]
    return [
        f"{key}: {recorded.get(key)} -> {current.get(key)}"
        for key in SAME_FIGURES_KEYS
        if recorded.get(key) != current.get(key)
    ]
