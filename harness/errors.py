"""Errors a user can cause. The CLI prints their message on one line and exits 2."""


class HarnessError(Exception):
    """A mistake in the user's input (config, paths, media, weights): no traceback."""

    exit_code = 2


class ConfigError(HarnessError):
    """A config file or override is invalid; the message names file and key path."""
