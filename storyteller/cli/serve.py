"""`storyteller serve`: the studio and an OpenAI-compatible API on one port.

    storyteller serve                                   # studio at http://127.0.0.1:8000/, API at /v1
    STORYTELLER_API__KEYS='["sk-..."]' storyteller serve --host 0.0.0.0
    # then, in any OpenAI SDK code: OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="sk-...")

Off loopback the API needs keys (settings.api.keys); it refuses to start without them.
"""

from __future__ import annotations

import threading

import typer

from storyteller.cli import app
from storyteller.errors import StorytellerError


def build_app(host: str, port: int, studio: bool = True):
    """The API, with the studio's Blocks mounted at / (built as `storyteller ui` builds them)."""
    from storyteller.api.app import create_app

    api = create_app(host)
    if not studio:
        return api
    import gradio as gr

    from storyteller import access
    from storyteller.ui.app import build_ui, launch_kwargs

    public = access.is_public(host)
    kwargs = {k: v for k, v in launch_kwargs(public).items() if k != "share"}
    return gr.mount_gradio_app(api, build_ui(public), path="/", server_name=host, server_port=port, **kwargs)


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on; default settings.api.host (127.0.0.1)."),
    port: int = typer.Option(None, min=1, max=65535, help="Port; default settings.api.port (8000)."),
    studio: bool = typer.Option(True, "--studio/--no-studio", help="Also serve the web studio at / (off: the API "
                                "alone, e.g. on a training machine)."),
) -> None:
    """Serve the story studio and the OpenAI-compatible API (/v1) together."""
    import uvicorn

    from storyteller import studio as telling
    from storyteller.config import get_settings

    s = get_settings().api
    host, port = host or s.host, port or s.port
    try:
        web = build_app(host, port, studio)
    except StorytellerError as e:
        typer.echo(f"Error: {e}", err=True)
        raise typer.Exit(1) from None
    threading.Thread(target=telling.warm_up, name="warm-up", daemon=True).start()
    typer.echo(f"Studio: http://{host}:{port}/   API: http://{host}:{port}/v1" if studio
               else f"API: http://{host}:{port}/v1", err=True)
    uvicorn.run(web, host=host, port=port, log_level="info")
