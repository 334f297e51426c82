"""Errors of the vocoder package that callers catch; importable without torch, so the command line
can name them in its handlers before any model code is loaded."""


class AudioConfigMismatch(ValueError):
    """Raised when two models that must share features were trained with different audio configs."""
