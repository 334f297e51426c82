"""Errors a user can fix; the CLI prints them as one line and the server maps them to status codes."""


class UserError(ValueError):
    """Bad input or a bad environment, with a message that says what to fix."""


class TextError(UserError):
    """Text that is empty or has nothing speakable in it."""


class VoiceError(UserError):
    """A voice directory that is missing, incomplete or inconsistent."""
