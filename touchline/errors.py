"""Errors that end a command with one line telling the user what to do."""


class TouchlineError(Exception):
    """A problem the user can fix; the CLI prints ``touchline: <message>`` and exits 2."""
