"""The one exception that means "the user's input is wrong": the CLI prints it on one line and exits 2."""


class InputError(Exception):
    """Bad input, found before any expensive work. The message names what is wrong and how to fix it."""
