"""User-facing session errors: the CLI prints their message on one line and exits with code 2."""


class SessionError(Exception):
    """Bad session input (unknown source, bad SOURCE spec, bad flag value); the message names it and the fix."""


class SettingError(SessionError):
    """A session option with a bad value: `setting` is the option's field name, `detail` what is wrong and the fix."""

    def __init__(self, setting: str, detail: str) -> None:
        super().__init__(f"{setting}: {detail}")
        self.setting = setting
        self.detail = detail
