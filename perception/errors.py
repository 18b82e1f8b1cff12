"""User-facing perception errors: the CLI prints their message on one line and exits with code 2."""


class PerceptionError(Exception):
    """Bad input to perception (missing/corrupt video, unreadable image, bad model path); message names the file."""
