"""``python -m weir`` runs the CLI."""

from weir.app import main

main()
