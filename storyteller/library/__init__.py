"""The family's story library: reading saved stories back, favourites, ratings, pairs of stories
and the preference data made from them (no gradio here; the web tab and the CLI call this)."""

from storyteller.library.exports import FORMATS, PreferencePair, PreferenceReport, Single, collect, export, records
from storyteller.library.store import (CHOICES, REASONS, Counts, Library, NoSuchStory, Page, Pair, StoryEntry,
                                       story_id)

__all__ = ["CHOICES", "FORMATS", "REASONS", "Counts", "Library", "NoSuchStory", "Page", "Pair", "PreferencePair",
           "PreferenceReport", "Single", "StoryEntry", "collect", "export", "records", "story_id"]
