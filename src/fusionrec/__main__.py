"""``python -m fusionrec``: the command line."""

from fusionrec.cli import app

app()
