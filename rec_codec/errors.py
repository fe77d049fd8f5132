"""Exceptions that reccodec raises for bad input; the CLI prints them as one line."""

__all__ = ["RecCodecError", "InputError", "FormatError", "MismatchError", "Interrupted"]


class RecCodecError(ValueError):
    """Base class of every error that is the user's input, not a bug."""


class InputError(RecCodecError):
    """An argument or input array is invalid (NaN, wrong shape, std <= 0, ...)."""


class FormatError(RecCodecError):
    """A bitstream or model file is corrupt, truncated or of another format or version."""


class MismatchError(RecCodecError):
    """The decoder's seed, prior or index model is not the one the encoder used."""


class Interrupted(Exception):
    """The user interrupted a search (SIGINT or SIGTERM); ``signum`` says which.

    Not a RecCodecError: the input was fine. The command line exits with status 130.
    """

    def __init__(self, signum):
        super().__init__("interrupted")
        self.signum = signum
