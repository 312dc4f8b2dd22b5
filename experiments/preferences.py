"""Top-10 lists for written preferences: the served flagship's answer to ``POST /v1/recommendations``.

Serves an ml100k-mm artifact in process (``create_app``; a fresh event
store in a temporary folder) and asks for the top ``--k`` items of each of
ten free-text preferences (``{"preference": ..., "k": ...}``): the text is
placed in the model's space by the artifact's own text encoder, so the
lists show what the content side of the model understood. The artifact is
made with ``fusionrec train --recipe ml100k-mm --save <artifact>`` when the
folder does not hold one.

Usage::

    FUSIONREC_DATA=../shared/data python experiments/preferences.py --artifact artifacts/ml100k
    python experiments/preferences.py --artifact artifacts/ml100k --preference "heist movie" --k 5

Prints one numbered list per preference (Markdown).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from fusionrec.serve import ServeSettings, create_app

PREFERENCES = (
    "space adventure with aliens",
    "scary horror about ghosts",
    "western with gunfights",
    "musical",
    "WWII epic",
    "mafia crime thriller",
    "romantic comedy in New York",
    "animated family film",
    "dark sci-fi with a strong female lead",
    "nature documentary",
)


def main() -> int:
    args = _parser().parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    artifact = Path(args.artifact)
    if not (artifact / "manifest.json").is_file():
        command = [sys.executable, "-m", "fusionrec", "train", "--recipe", args.recipe, "--save", str(artifact)]
        subprocess.run(command, check=True)
    preferences = args.preference or list(PREFERENCES)
    with tempfile.TemporaryDirectory() as folder:
        settings = ServeSettings(artifact=artifact, store_url=f"sqlite:///{folder}/events.sqlite3")
        with TestClient(create_app(settings)) as client:
            for preference in preferences:
                print(markdown(preference, top_titles(client, preference, args.k)))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", default="artifacts/ml100k", help="artifact folder (trained there if absent)")
    parser.add_argument("--recipe", default="ml100k-mm", help="recipe that trains the artifact when it is absent")
    parser.add_argument("--k", type=int, default=10, help="items per list")
    parser.add_argument("--preference", action="append", help="a preference to ask (repeatable; default: ten)")
    return parser


def top_titles(client: TestClient, preference: str, k: int) -> list[str]:
    """The titles of the service's top ``k`` items for ``preference``."""
    answer = client.post("/v1/recommendations", json={"preference": preference, "k": k})
    if answer.status_code != 200:
        raise SystemExit(f"the service refused {preference!r}: {answer.status_code} {answer.text}")
    return [item["title"] for item in answer.json()["items"]]


def markdown(preference: str, titles: list[str]) -> str:
    lines = [f"**{preference}**", ""]
    lines += [f"{rank}. {title}" for rank, title in enumerate(titles, start=1)]
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    sys.exit(main())
