#!/usr/bin/env bash
# Rewrite constraints.txt from what .venv holds (run after adding a dependency to pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Pinned versions of every package fusionrec installs (pip -c constraints.txt). Regenerate with scripts/freeze.sh."
  .venv/bin/python -m pip freeze --exclude-editable | grep -v '@ file' | sed -E 's/^(torch==[0-9.]+)\+cpu$/\1/'
} > constraints.txt
