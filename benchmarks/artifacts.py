"""The trained artifact a benchmark reads: loaded when it exists, else made by ``fusionrec train --recipe ... --save``.

Used by ``llm_rerank.py`` and ``explanations.py``; not a benchmark itself.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from fusionrec.models.artifact import LoadedArtifact, load_artifact

logger = logging.getLogger(__name__)


def train_or_load(recipe: str, path: Path) -> LoadedArtifact:
    """The artifact at ``path``; when absent, ``fusionrec train --recipe <recipe> --save <path>`` makes it first."""
    if not (path / "manifest.json").is_file():
        command = [sys.executable, "-m", "fusionrec", "train", "--recipe", recipe, "--save", str(path)]
        logger.info("no artifact at %s: running %s", path, " ".join(command[1:]))
        subprocess.run(command, check=True)
    return load_artifact(path)
