"""``python -m alsel``: the command line."""

from .cli import main

main()
