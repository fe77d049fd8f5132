"""Long searches: blocks spread over threads, and stopped (never killed) by Ctrl-C or SIGTERM.

The search kernels take a range of blocks and two small arrays: ``stop`` (one int64, polled
once per batch of candidates: when it is non-zero every block returns at once) and
``done`` (one uint8 per block, set when the block is finished). They release the GIL, so
``run_search`` runs them on worker threads, one range of blocks per call, handed out from
a shared counter (large ranges first, then smaller ones, so that uneven blocks balance),
on as many threads as ``numba.get_num_threads()`` says in the calling thread (what
``reccodec --threads`` sets). Blocks are independent given the seed, so the result does
not depend on the split.

Python runs a signal's handler only between bytecodes, so the main thread waits for the
workers with SIGINT and SIGTERM recorded instead of raised; a signal sets ``stop``, the
kernels return within a batch, and ``Interrupted`` is raised. Outside the main thread
(where Python cannot install handlers) the search cannot be interrupted.
"""

import contextlib
import signal
import threading

import numpy as np

from .errors import Interrupted

__all__ = ["Interrupted", "run_search", "stopped_by_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_POLL_SECONDS = 0.05
_MAX_RANGE = 64  # blocks per kernel call at most
_RANGES_PER_THREAD = 8  # a range is at most the remaining blocks / (threads x this)


class _Ranges:
    """Ranges of block indices for the workers: guided, from large to 1, thread safe."""

    def __init__(self, count, threads):
        self.next = 0
        self.count = count
        self.divisor = threads * _RANGES_PER_THREAD
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            lo = self.next
            if lo >= self.count:
                return None
            size = max(1, min(_MAX_RANGE, (self.count - lo) // self.divisor))
            self.next = lo + size
            return lo, lo + size


def _threads():
    import numba  # the searches are numba kernels: loaded with them

    return numba.get_num_threads()


@contextlib.contextmanager
def stopped_by_signals(stop):
    """Inside the block, SIGINT and SIGTERM set ``stop[0]`` instead of raising; on leaving
    it the handlers are restored, and ``Interrupted`` is raised if a signal arrived.

    Searches run in the calling thread (``pfr_numpy``) poll ``stop`` as the kernels do.
    Outside the main thread (where Python cannot install handlers) nothing changes.

    Args:
        stop (np.ndarray): int64[1], the flag the searches poll.
    """
    received = []

    def record(signum, frame):
        received.append(signum)
        stop[0] = 1

    in_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, record) for sig in _SIGNALS} if in_main else {}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise Interrupted(received[0])


def run_search(count, search, progress=None):
    """Run ``search(lo, hi, stop, done)`` over blocks 0 .. count - 1, a range at a time on
    worker threads, so that SIGINT and SIGTERM stop it.

    Args:
        count (int): the blocks.
        search (callable): search(lo, hi, stop, done) runs the kernel on blocks lo .. hi - 1
            with those control arrays, writing its results into arrays the caller holds.
        progress (callable or None): progress(blocks_done, count), called while it runs and
            once at the end.
    Raises:
        Interrupted: SIGINT or SIGTERM arrived; the kernels were stopped.
        Exception: the first error a kernel call raised (the other workers stop).
    """
    stop = np.zeros(1, dtype=np.int64)
    done = np.zeros(max(count, 1), dtype=np.uint8)
    threads = _threads()
    ranges = _Ranges(count, threads)
    errors = []

    def work():
        try:
            while stop[0] == 0:
                taken = ranges.take()
                if taken is None:
                    return
                search(taken[0], taken[1], stop, done)
        except BaseException as error:  # handed to the calling thread
            errors.append(error)
            stop[0] = 1

    with stopped_by_signals(stop):
        workers = [threading.Thread(target=work, name=f"reccodec-search-{i}", daemon=True)
                   for i in range(min(threads, max(count, 1)))]
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(_POLL_SECONDS)
                if progress is not None and stop[0] == 0:
                    progress(int(np.count_nonzero(done[:count])), count)
    if errors:
        raise errors[0]
    if progress is not None:
        progress(count, count)
