"""The `storyteller` command. Each area adds its commands from its own module here.

    storyteller tell --dynasty 唐 --power 隐形 --style 轻松
    storyteller ui
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Storyteller: stories of heroes from Chinese dynasties who help Ultraman.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


@app.callback()
def _root() -> None:
    """Tell stories, read them aloud, build datasets and fine-tune storytellers."""


def main() -> None:
    from storyteller.cli import commands  # noqa: F401  (registers the commands on `app`)

    app()
