"""What tabs hand each other. `app.build_ui()` makes one `UIContext` and passes it to every tab's
`render(ctx)`; a tab fills in the fields it publishes (e.g. the story tab's model picker, so a
finished fine-tune's "Try it" can select the new model and switch tabs), and reads the others'.

Only components and gr.State live here (per-session values travel through gr.State), never
plain mutable values shared by every browser session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from storyteller.config import Settings
from storyteller.ui.i18n import Words

STORY_TAB = "story"


@dataclass
class UIContext:
    settings: Settings
    tabs: gr.Tabs | None = None  # select a tab with gr.Tabs(selected=<tab id>) as an event output
    # Published by the story tab:
    lang: gr.Radio | None = None  # "zh" | "en"; other tabs may follow its .change to relabel
    model: gr.Dropdown | None = None  # the story model picker; update its choices/value from elsewhere
    # Published by the Data tab:
    dataset_path: gr.State | None = None  # path of the dataset the Data tab made or checked
    extra: dict[str, Any] = field(default_factory=dict)  # anything else a tab wants to share, by name
    # Published by app.build_ui:
    public: bool = False  # public mode (storyteller.access): gates, limits, one family's view each
    visitor: gr.State | None = None  # this page's ui.visitor.Visitor: its family, the parent gate, its language
    words: Words = field(default_factory=Words)  # every component whose words follow the page language
