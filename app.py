"""Entry point for `python app.py` and Hugging Face Spaces: build the UI and launch it."""

from storyteller.ui.app import launch

if __name__ == "__main__":
    launch()
