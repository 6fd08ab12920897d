"""Importing a module registers its commands on `storyteller.cli.app`. One line per area."""

from storyteller.cli import speak  # noqa: F401
from storyteller.cli import tell  # noqa: F401
from storyteller.cli import data  # noqa: F401
from storyteller.cli import models  # noqa: F401
from storyteller.cli import eval  # noqa: F401,A004
from storyteller.cli import finetune  # noqa: F401
from storyteller.cli import reading  # noqa: F401
from storyteller.cli import serve  # noqa: F401
from storyteller.cli import stories  # noqa: F401
