"""Shards: a data set as many .npz files, one ``.recs`` container each, coded in parallel.

A shard is one .npz file of posteriors (arrays ``mean`` and ``std``, [items, *model.shape]).
``encode_shards`` codes every shard with one codec model and one seed S into
``OUT_DIR/NAME.recs``, where NAME is the shard's file name without its extension
(``part-0007.npz`` -> ``part-0007``). Shard NAME is coded as a batch (``batch.encode_batch``)
with the seed::

    int.from_bytes(SHA-256(b"reccodec/shard-seed/v1" + S (8 bytes LE) + NAME (UTF-8))[:8], "little")

so its bytes depend on S, NAME and its items only: not on the other shards, their order,
or what runs them (one process, a local pool, a Dask cluster). ``decode_shards`` derives
the same seed from the container's file name, so a renamed output does not decode.

Each container records the SHA-256 of its input file (flag bit 1 of the container
header). A shard whose output exists, parses, and records the same model, seed and input
hash is skipped, so an interrupted run resumes where it stopped; a shard whose input
changed is coded again. Every output is written atomically (a temporary file renamed into
place): a file in OUT_DIR is either a whole container or absent.

Without a client, shards run in a local pool of ``workers`` processes (default: the core
count; 1 runs them in this process). With a ``dask.distributed`` client, each shard is one
task on its cluster; the workers must see the same paths (a shared file system) and have
reccodec installed. Either way each shard is coded on one thread, so the work is spread
over shards, not inside them. A shard that fails (a missing file, a bad array) fails
alone: its outcome names it with one line of reason, and the others complete.
"""

import concurrent.futures
import hashlib
import multiprocessing
import os
import threading
import time
from dataclasses import asdict, dataclass

from . import batch
from .container import atomic_write, read_file
from .errors import InputError, RecCodecError
from .io import load_gaussian_bytes, npy_bytes
from .model import CodecModel, load_model
from .seed import split_seed

__all__ = ["SHARD_SEED_DOMAIN", "ShardOutcome", "shard_name", "shard_seed", "encode_shards", "decode_shards",
           "summarize"]

SHARD_SEED_DOMAIN = b"reccodec/shard-seed/v1"
CONTAINER_SUFFIX = ".recs"
SAMPLES_SUFFIX = ".npy"


@dataclass
class ShardOutcome:
    """What happened to one shard.

    Attributes:
        name (str): the shard's name (its file name without the extension).
        source (str): the input file.
        output (str): the file written (or found, when skipped).
        status (str): "encoded", "skipped" (its output already matched), "decoded" or "failed".
        items (int or None): items in the shard.
        bits (int or None): 8 * the container's size.
        kl_bits (float or None): the items' KL to the prior, summed (None when skipped or decoded).
        seconds (float): wall time of this shard.
        error (str or None): one line naming the shard and the reason, when it failed.
    """

    name: str
    source: str
    output: str
    status: str
    items: int = None
    bits: int = None
    kl_bits: float = None
    seconds: float = 0.0
    error: str = None

    @property
    def failed(self):
        return self.status == "failed"

    def to_dict(self):
        return asdict(self)


def shard_name(path):
    """A shard's name: its file name without the last extension.

    Args:
        path (str or os.PathLike): the shard's input or output file.
    Returns:
        str.
    Raises:
        InputError: the name is empty.
    """
    name = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    if not name:
        raise InputError(f"{os.fspath(path)}: a shard needs a file name")
    return name


def shard_seed(seed, name):
    """The seed of shard ``name`` coded with ``seed`` (see the module docstring).

    Args:
        seed (int): the data set's seed in [0, 2^64).
        name (str): the shard's name (``shard_name``).
    Returns:
        int in [0, 2^64).
    Raises:
        InputError: a seed out of range.
    """
    split_seed(seed)
    digest = hashlib.sha256(SHARD_SEED_DOMAIN + int(seed).to_bytes(8, "little") + str(name).encode("utf-8"))
    return int.from_bytes(digest.digest()[:8], "little")


def _named(paths, out_dir, suffix):
    """(name, source, output) of every path; two shards of one name are refused."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    seen, jobs = {}, []
    for path in paths:
        path = os.fspath(path)
        name = shard_name(path)
        if name in seen:
            raise InputError(f"{seen[name]} and {path} are both shard {name!r}; shard names must differ")
        seen[name] = path
        jobs.append((name, path, os.path.join(os.fspath(out_dir), name + suffix)))
    if not jobs:
        raise InputError("there are no shards")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot make output folder {os.fspath(out_dir)}: {error.strerror or error}") from None
    return jobs


_MODELS = {}  # model bytes -> CodecModel, per process: a worker parses the model once


def _model_from(model_bytes):
    model = _MODELS.get(model_bytes)
    if model is None:
        model = _MODELS[model_bytes] = load_model(model_bytes)
    return model


def _one_line(path, error):
    message = " ".join(str(error).split())
    return message if message.startswith(path) else f"{path}: {message}"


def _existing_matches(output, model, seed, source_hash):
    """The existing output's container when it records this model, seed and input; else None."""
    try:
        data = read_file(output)
        if batch.container_source_hash(data) != source_hash:
            return None
        batch.decode_batch(data, model, seed, items=[0])  # raises MismatchError for another model or seed
        return batch.describe_container(data)
    except (RecCodecError, OSError):
        return None


def _encode_shard(name, source, output, model_bytes, seed):
    """Code one shard into its container; a ShardOutcome (never raises for bad input)."""
    started = time.perf_counter()
    model = _model_from(model_bytes)
    seed_s = shard_seed(seed, name)
    try:
        data = read_file(source)
        source_hash = hashlib.sha256(data).digest()
        found = _existing_matches(output, model, seed_s, source_hash)
        if found is not None:
            return ShardOutcome(name, source, output, "skipped", items=found["items"], bits=8 * found["bytes"],
                                seconds=time.perf_counter() - started)
        items = load_gaussian_bytes(data, source)
        result = batch.encode_batch(items.mean, items.std, model, seed_s, source_hash=source_hash)
        atomic_write(output, result.container)
    except (RecCodecError, OSError) as error:
        return ShardOutcome(name, source, output, "failed", seconds=time.perf_counter() - started,
                            error=_one_line(source, error))
    return ShardOutcome(name, source, output, "encoded", items=int(result.kl_bits.shape[0]),
                        bits=8 * len(result.container), kl_bits=float(result.kl_bits.sum()),
                        seconds=time.perf_counter() - started)


def _decode_shard(name, source, output, model_bytes, seed):
    """Decode one container into an .npy of its samples; a ShardOutcome."""
    started = time.perf_counter()
    model = _model_from(model_bytes)
    try:
        data = read_file(source)
        samples = batch.decode_batch(data, model, shard_seed(seed, name))
        atomic_write(output, npy_bytes(samples))
    except (RecCodecError, OSError) as error:
        return ShardOutcome(name, source, output, "failed", seconds=time.perf_counter() - started,
                            error=_one_line(source, error))
    return ShardOutcome(name, source, output, "decoded", items=int(samples.shape[0]), bits=8 * len(data),
                        seconds=time.perf_counter() - started)


def _on_one_thread(work, *args):
    """``work(*args)`` on a fresh thread whose numba kernels use one thread.

    Shards, not the blocks inside one, are the unit of parallel work; a fresh thread also
    keeps the search off the signal handling of a process's main thread.
    """
    import numba

    outcome = {}

    def run():
        numba.set_num_threads(1)
        try:
            outcome["result"] = work(*args)
        except BaseException as error:  # handed back to the caller
            outcome["error"] = error

    thread = threading.Thread(target=run, name="reccodec-shard", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _run(work, jobs, model, seed, client, workers, progress):
    if not isinstance(model, CodecModel):
        raise InputError(f"model must be a CodecModel (rec_codec.load_model), got {type(model).__name__}")
    split_seed(seed)
    model_bytes = model.to_bytes()
    outcomes, started = [], time.perf_counter()

    def finished(outcome):
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome, len(outcomes), len(jobs), time.perf_counter() - started)

    if client is not None:
        from distributed import as_completed

        futures = {client.submit(_on_one_thread, work, name, source, output, model_bytes, seed,
                                 key=f"reccodec-{work.__name__.strip('_')}-{name}-{os.urandom(4).hex()}",
                                 pure=False): job for job in jobs for name, source, output in [job]}
        try:
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception as error:  # the cluster gave up on the task (KilledWorker, ...)
                    name, source, output = futures[future]
                    outcome = ShardOutcome(name, source, output, "failed", error=_one_line(
                        source, f"its task failed on the cluster ({type(error).__name__}: {error})"))
                finished(outcome)
        finally:
            for future in futures:
                future.release()
    else:
        workers = (os.cpu_count() or 1) if workers is None else int(workers)
        if workers < 1:
            raise InputError(f"workers must be >= 1, got {workers}")
        workers = min(workers, len(jobs))
        if workers == 1:
            for name, source, output in jobs:
                finished(_on_one_thread(work, name, source, output, model_bytes, seed))
        else:
            context = multiprocessing.get_context("spawn")  # numba's OpenMP threads are not fork-safe
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = {pool.submit(_on_one_thread, work, name, source, output, model_bytes, seed): job
                           for job in jobs for name, source, output in [job]}
                try:
                    for future in concurrent.futures.as_completed(futures):
                        try:
                            finished(future.result())
                        except concurrent.futures.process.BrokenProcessPool:
                            name, source, output = futures[future]
                            finished(ShardOutcome(name, source, output, "failed",
                                                  error=f"{source}: its worker process died (out of memory?)"))
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    order = {name: i for i, (name, _, _) in enumerate(jobs)}
    return sorted(outcomes, key=lambda o: order[o.name])


def encode_shards(paths, model, seed, out_dir, client=None, workers=None, progress=None):
    """Code every shard into ``out_dir/NAME.recs`` (see the module docstring).

    Args:
        paths (iterable of str): the shards' .npz files; their names must differ.
        model (CodecModel): the codec model.
        seed (int): the data set's seed in [0, 2^64); shard NAME uses ``shard_seed(seed, NAME)``.
        out_dir (str): the folder for the containers, made if missing.
        client (distributed.Client or None): run each shard as a task on its cluster.
        workers (int or None): without a client, processes of the local pool (default the
            core count; 1 = in this process).
        progress (callable or None): progress(outcome, shards_done, shards, seconds), called
            as each shard finishes.
    Returns:
        list of ShardOutcome, in the order of ``paths``; a shard that failed says why and
        does not stop the others.
    Raises:
        InputError: no shards, two shards of one name, an output folder that cannot be made, a bad seed,
            model or worker count.
    """
    return _run(_encode_shard, _named(paths, out_dir, CONTAINER_SUFFIX), model, seed, client, workers, progress)


def decode_shards(paths, model, seed, out_dir, client=None, workers=None, progress=None):
    """Decode every container ``NAME.recs`` into ``out_dir/NAME.npy``, the encoder's samples bit for bit.

    Args:
        paths (iterable of str): the containers written by ``encode_shards`` (under their names).
        model (CodecModel): the encoder's model.
        seed (int): the encoder's seed.
        out_dir, client, workers, progress: as for ``encode_shards``.
    Returns:
        list of ShardOutcome, in the order of ``paths``.
    Raises:
        InputError: as for ``encode_shards``.
    """
    return _run(_decode_shard, _named(paths, out_dir, SAMPLES_SUFFIX), model, seed, client, workers, progress)


def summarize(outcomes):
    """Totals of a run as a JSON-ready dict: shards by status, items, bits, KL and seconds."""
    done = [o for o in outcomes if not o.failed]
    kl = [o.kl_bits for o in done if o.kl_bits is not None]
    return {
        "shards": len(outcomes),
        "encoded": sum(o.status == "encoded" for o in outcomes),
        "skipped": sum(o.status == "skipped" for o in outcomes),
        "decoded": sum(o.status == "decoded" for o in outcomes),
        "failed": sum(o.failed for o in outcomes),
        "items": sum(o.items or 0 for o in done),
        "bits": sum(o.bits or 0 for o in done),
        "kl_bits": round(sum(kl), 3) if kl else None,
        "shard_seconds": round(sum(o.seconds for o in outcomes), 4),
    }
