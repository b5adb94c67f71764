"""Command-line entry points (typer). No logic lives here beyond argument handling."""
