"""The ``weir`` command line (Typer + Rich)."""
