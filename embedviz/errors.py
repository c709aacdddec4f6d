"""Typed errors. The library raises these; only the CLI and the UI turn them into messages."""

from __future__ import annotations


class EmbedvizError(Exception):
    """Base of every error embedviz raises on purpose. Its message is meant for the user."""


class InputError(EmbedvizError):
    """The input (a file, a column, a parameter) cannot be used as given."""


class BackendError(EmbedvizError):
    """An embedding backend cannot be built or failed to encode."""
