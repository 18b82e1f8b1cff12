"""User-facing session errors: the CLI prints their message on one line and exits with code 2."""


class SessionError(Exception):
    """Bad session input (unknown source, bad SOURCE spec, bad flag value); the message names it and the fix."""
