"""Exceptions that reccodec raises for bad input; the CLI prints them as one line."""

__all__ = ["RecCodecError", "InputError", "FormatError", "MismatchError"]


class RecCodecError(ValueError):
    """Base class of every error that is the user's input, not a bug."""


class InputError(RecCodecError):
    """An argument or input array is invalid (NaN, wrong shape, std <= 0, ...)."""


class FormatError(RecCodecError):
    """A bitstream or model file is corrupt, truncated or of another format or version."""


class MismatchError(RecCodecError):
    """The decoder's seed, prior or index model is not the one the encoder used."""
