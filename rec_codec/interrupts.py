"""Ctrl-C and SIGTERM during long searches: the kernel is asked to stop, never killed.

Python runs a signal's handler only between bytecodes, so a SIGINT that arrives while a
numba kernel runs in the main thread waits for the whole search; and an exception raised
inside numba's parallel machinery can leave its threads in a bad state. So the search
kernels take two small arrays: ``stop`` (one int64, polled once per batch of candidates:
when it is non-zero every block returns at once) and ``done`` (one uint8 per block, set when
the block is finished). ``run_search`` runs the kernel in a worker thread (the kernels
release the GIL) while the main thread waits with SIGINT and SIGTERM recorded instead of
raised; a signal sets ``stop``, the kernel returns within a batch, and ``Interrupted`` is
raised. Outside the main thread (where Python cannot install handlers) the kernel runs in
the calling thread and cannot be interrupted.
"""

import signal
import threading

import numpy as np

from .errors import Interrupted

__all__ = ["Interrupted", "run_search"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_POLL_SECONDS = 0.05


def run_search(count, search, progress=None):
    """Run ``search(stop, done)``, a kernel call over ``count`` blocks, so that SIGINT and
    SIGTERM stop it.

    Args:
        count (int): the blocks.
        search (callable): search(stop, done) runs the kernel with those control arrays and
            returns its result; numba hands the blocks to its threads one at a time, with the
            calling thread's ``numba.get_num_threads()``.
        progress (callable or None): progress(blocks_done, count), called while it runs and
            once at the end.
    Returns:
        what ``search`` returned.
    Raises:
        Interrupted: SIGINT or SIGTERM arrived; the kernel was stopped.
    """
    import numba

    stop = np.zeros(1, dtype=np.int64)
    done = np.zeros(max(count, 1), dtype=np.uint8)
    threads = numba.get_num_threads()  # the caller's count (reccodec --threads); numba keeps one per thread

    def run():
        numba.set_num_threads(threads)
        with numba.parallel_chunksize(1):  # blocks differ in work: hand them out one at a time
            return search(stop, done)

    if threading.current_thread() is not threading.main_thread():
        result = run()
        if progress is not None:
            progress(count, count)
        return result
    received = []

    def record(signum, frame):
        received.append(signum)
        stop[0] = 1

    outcome = {}

    def work():
        try:
            outcome["result"] = run()
        except BaseException as error:  # handed to the main thread
            outcome["error"] = error

    previous = {sig: signal.signal(sig, record) for sig in _SIGNALS}
    try:
        worker = threading.Thread(target=work, name="reccodec-search", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(_POLL_SECONDS)
            if progress is not None and not received:
                progress(int(np.count_nonzero(done[:count])), count)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise Interrupted(received[0])
    if "error" in outcome:
        raise outcome["error"]
    if progress is not None:
        progress(count, count)
    return outcome["result"]
