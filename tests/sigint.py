"""A SIGINT sent to this process while a search runs, for the tests of the numpy searches."""

import contextlib
import os
import signal
import threading


@contextlib.contextmanager
def sigint_after(seconds):
    """Send this process SIGINT after ``seconds``; on a normal exit, cancel the timer and
    check that the code under test put the default SIGINT handler back."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
