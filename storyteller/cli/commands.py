"""Importing a module registers its commands on `storyteller.cli.app`. One line per area."""

from storyteller.cli import speak  # noqa: F401
