"""User-facing body errors: the CLI prints the message on one line and exits with code 2."""


class BodyError(Exception):
    """Bad input to the body (missing/corrupt mocap or BVH file, no display for --gui, bad clip path)."""
