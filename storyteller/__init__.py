"""Storyteller: a story studio for children and their parents.

Heroes from Chinese dynasties travel to today and help Ultraman (奥特曼) defeat monsters.
Package layout and import direction are described in README.md ("How the code is laid out").
"""

__version__ = "0.1.0"
