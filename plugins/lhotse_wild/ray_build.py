"""Corpus build on Ray: shard a lazy CutSet, degrade on workers, write Lhotse Shar, resumable.

    import lhotse_wild.ray_build as rb
    wild = rb.degrade_cuts_ray(CutSet.from_jsonl_lazy("clean.jsonl.gz"), "out/", address="auto",
                               seed=0, num_per_cut=2, shard_size=1000)

Why Ray: users build 2.4 M-clip corpora on clusters that already run Ray (verl does); Lhotse has no
distributed engine of its own. Ray tasks, not ``ray.data``: one task = one Shar shard, which makes
resume and exact counts simple.

* **Same result as in-process.** Each task calls :func:`lhotse_wild.build.render_cut`, the per-cut
  step of the in-process build, with the same :class:`~lhotse_wild.build.BuildSettings` and the same
  noise bank (user noise + the first ``babble_pool`` cuts of the input, shipped once through the object
  store). Draws depend only on (seed, cut id, variant), so the output is the in-process output, cut
  for cut, audio bit for bit, whatever the number of workers or the order shards finish in.
* **Shards.** Shard ``i`` holds input cuts ``[i·shard_size, (i+1)·shard_size)`` (all their variants)
  and is written as ``OUT/shar/cuts.{i:06d}.jsonl.gz`` + ``OUT/shar/recording.{i:06d}.tar``, the
  encoded audio stored as rendered (:class:`ShardWriter`: no decode/re-encode per cut).
* **Resume.** A task writes its shard into a private temporary folder, moves the files into
  ``OUT/shar/`` and only then writes the done-marker ``OUT/shards/{i:06d}.json`` (atomic rename) with
  the shard's input-id digest, output ids and skipped cuts. A rerun skips every shard with a marker
  (after checking the input ids still match) and redoes the rest from scratch (overwriting any half
  shard), so no cut is ever lost or duplicated.
* **Backpressure.** At most ``max_in_flight`` shards are submitted at a time and the input is read
  lazily, so driver memory is flat in corpus size; tasks return only their small marker.
* **Faults.** A worker that dies (OOM kill, node loss) is retried by Ray (``max_retries``); the retry
  redoes the whole shard, so the count stays exact. A corrupt or too-short input is reported with its
  cut id and the rest proceeds: with ``on_error="skip"`` it is recorded in the marker (and
  ``OUT/skipped.jsonl``); with ``on_error="raise"`` its shard is left unfinished (rerun after fixing
  the file) and an :class:`InputError` listing the failed cuts is raised once everything else is done.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from lhotse_wild.build import (
    SKIPPED,
    BuildSettings,
    babble_stream,
    check_settings_file,
    render_cut,
    write_bytes_atomically,
)
from lhotse_wild.noise import NoiseBank
from nemo_wild_eval.errors import InputError

SHAR_DIR = "shar"
MARKER_DIR = "shards"
TMP_DIR = ".tmp"

#: called in the worker before each input cut with (shard index, position in shard): tests use it to
#: kill a worker mid-shard; monitoring can use it too. Must be picklable.
TaskHook = Callable[[int, int], None]


def _ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a project dependency
        from nemo_wild_eval.errors import BackendUnavailable

        raise BackendUnavailable(f"ray is not importable ({exc}); pip install 'ray[default]'") from exc
    return ray


def ensure_ray(address: str | None = None, **init_kwargs: Any) -> Any:
    """Connect to Ray once: ``address`` of a running cluster (``"auto"``, ``ray://…``) or None = local."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, **init_kwargs)
    return ray


def ids_digest(ids: Sequence[str]) -> str:
    """Digest of a shard's ordered input ids: a resumed run must see the same cuts in the same shard."""
    h = hashlib.sha256()
    for i in ids:
        h.update(i.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def shard_paths(out_dir: Path, index: int) -> dict[str, Path]:
    shar = out_dir / SHAR_DIR
    return {"cuts": shar / f"cuts.{index:06d}.jsonl.gz", "recording": shar / f"recording.{index:06d}.tar"}


def marker_path(out_dir: Path, index: int) -> Path:
    return out_dir / MARKER_DIR / f"{index:06d}.json"


class ShardWriter:
    """Writes one Lhotse Shar shard (``cuts.jsonl.gz`` + ``recording.tar``) from already encoded audio.

    The layout is exactly what Lhotse's ``SharWriter`` writes for a ``recording`` field (per cut:
    ``{id}.{format}`` audio bytes and ``{id}.json`` with the placeholder recording; the cut with
    ``start=0``), but the flac/wav bytes from :func:`~lhotse_wild.build.render_cut` go in as they are:
    no decode + re-encode per cut, and the stored bytes are those of the in-process build's files.
    """

    def __init__(self, folder: Path, audio_format: str):
        from lhotse.shar.writers import JsonlShardWriter, TarWriter

        self.audio_format = audio_format
        self.tar = TarWriter(str(folder / "recording.tar"), shard_size=None)
        self.cuts = JsonlShardWriter(str(folder / "cuts.jsonl.gz"), shard_size=None)

    def __enter__(self) -> "ShardWriter":
        self.tar.__enter__()
        self.cuts.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.tar.close()
        self.cuts.close()

    def write(self, cut: Any, audio: bytes) -> None:
        import io

        from lhotse.shar.utils import to_shar_placeholder
        from lhotse.utils import fastcopy

        recording = to_shar_placeholder(cut.recording, cut)
        channels = cut.channel if isinstance(cut.channel, list) else [cut.channel]
        if recording.channel_ids != channels:
            recording.sources[0].channels = channels
            recording.channel_ids = channels
        self.tar.write(f"{cut.id}.{self.audio_format}", io.BytesIO(audio))
        meta = (json.dumps(recording.to_dict()) + "\n").encode("utf-8")
        self.tar.write(f"{cut.id}.json", io.BytesIO(meta), count=False)
        self.cuts.write(fastcopy(cut, recording=recording, start=0))


def build_shard(
    index: int,
    cut_dicts: list[dict],
    settings: BuildSettings,
    bank_spec: dict[str, list[dict]],
    out_dir: str,
    on_error: str = "skip",
    task_hook: TaskHook | None = None,
) -> dict[str, Any]:
    """Degrade one shard of input cuts and write it as Shar + done-marker; returns the marker.

    Plain function (the Ray task wraps it), idempotent: a retry or a rerun rewrites the same files.
    """
    from lhotse.cut.set import deserialize_cut

    cpu0, wall0 = time.process_time(), time.perf_counter()
    out = Path(out_dir)
    cuts = [deserialize_cut(d) for d in cut_dicts]
    ids = [c.id for c in cuts]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"duplicate cut id {dup!r} in the input: ids must be unique", source="cuts")
    bank = NoiseBank(noise_cuts=[deserialize_cut(d) for d in bank_spec["noise"]] or None,
                     babble_cuts=[deserialize_cut(d) for d in bank_spec["babble"]] or None,
                     max_babble=max(1, len(bank_spec["babble"])))
    tmp = out / TMP_DIR / f"{index:06d}-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    done_ids: list[str] = []
    skipped: list[dict[str, str]] = []
    try:
        with ShardWriter(tmp, settings.audio_format) as writer:
            for pos, cut in enumerate(cuts):
                if task_hook is not None:
                    task_hook(index, pos)
                for r in render_cut(cut, settings, bank):
                    if r.error is not None:
                        skipped.append({"id": r.id, "reason": r.error})
                        continue
                    writer.write(r.cut, r.audio)
                    done_ids.append(r.id)
        marker = {"shard": index, "input_digest": ids_digest(ids), "num_input": len(ids),
                  "cuts": done_ids, "skipped": skipped,
                  # cost accounting (not data): CPU seconds are what a core-hour estimate needs
                  "cpu_s": round(time.process_time() - cpu0, 4), "wall_s": round(time.perf_counter() - wall0, 4)}
        if skipped and on_error == "raise":  # unfinished on purpose: a rerun retries it
            marker["unfinished"] = True
            return marker
        final = shard_paths(out, index)
        final["cuts"].parent.mkdir(parents=True, exist_ok=True)
        for field, src in (("cuts", tmp / "cuts.jsonl.gz"), ("recording", tmp / "recording.tar")):
            if done_ids:
                os.replace(src, final[field])
            elif final[field].exists():  # a stale file of an earlier attempt: an empty shard has none
                final[field].unlink()
        write_bytes_atomically(marker_path(out, index), json.dumps(marker, ensure_ascii=False).encode("utf-8"))
        return marker
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _shards(stream: Iterable[Any], shard_size: int) -> Iterator[tuple[int, list[Any]]]:
    it = iter(stream)
    index = 0
    while True:
        chunk = list(islice(it, shard_size))
        if not chunk:
            return
        yield index, chunk
        index += 1


def read_marker(out_dir: Path, index: int) -> dict[str, Any] | None:
    path = marker_path(out_dir, index)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):  # cannot happen with atomic writes; redo the shard if it does
        return None


def degrade_cuts_ray(
    cuts: Iterable[Any],
    output_dir: str | Path,
    scenarios: str | Sequence[str] = "all",
    sampler: str = "linear",
    seed: int = 0,
    noise_cuts: Any = None,
    num_per_cut: int = 1,
    *,
    config: Any = None,
    babble: bool = True,
    babble_pool: int = 500,
    audio_format: str = "flac",
    shard_size: int = 1000,
    on_error: str = "raise",
    address: str | None = None,
    max_in_flight: int | None = None,
    max_retries: int = 3,
    num_cpus_per_task: float = 1.0,
    progress: bool = True,
    task_hook: TaskHook | None = None,
) -> Any:
    """Degrade every cut on Ray into Lhotse Shar under ``output_dir/shar``; returns the lazy CutSet.

    Arguments as :func:`lhotse_wild.degrade_cuts` (same settings → same cuts and audio), plus
    ``address`` (None: start/join a local Ray; ``"auto"`` or ``ray://host:10001``: a cluster),
    ``shard_size`` (input cuts per shard and task), ``max_in_flight`` (shards submitted at once;
    default 2 × cluster CPUs) and ``max_retries`` (Ray retries of a task whose worker died).
    Rerun the same call to resume.
    """
    from lhotse import CutSet
    from tqdm.auto import tqdm

    settings = BuildSettings.make(scenarios, sampler, seed, num_per_cut, config, audio_format)
    if on_error not in ("raise", "skip"):
        raise InputError(f"on_error must be 'raise' or 'skip', got {on_error!r}", source="on_error")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise InputError(f"shard_size must be an integer >= 1, got {shard_size!r}", source="shard_size")
    out = Path(output_dir)
    stream, bank = babble_stream(cuts, noise_cuts, babble, babble_pool)
    check_settings_file(out, {**settings.record(), "babble": babble, "babble_pool": babble_pool,
                              "noise_cuts": [c.id for c in bank.user], "engine": "ray",
                              "shard_size": shard_size})
    try:
        total = len(cuts)  # type: ignore[arg-type]
    except TypeError:
        total = None

    ray = ensure_ray(address)
    task = ray.remote(build_shard).options(max_retries=int(max_retries), retry_exceptions=False,
                                           num_cpus=num_cpus_per_task)
    if max_in_flight is None:
        max_in_flight = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    bank_ref = ray.put({"noise": [c.to_dict() for c in bank.user], "babble": [c.to_dict() for c in bank.babble]})
    settings_ref = ray.put(settings)

    markers: dict[int, dict[str, Any]] = {}
    failed: list[dict[str, str]] = []
    pending: dict[Any, int] = {}
    bar = tqdm(total=total and total * settings.num_per_cut, desc="simulate (ray)", unit="cut",
               disable=not progress)

    def finish(marker: dict[str, Any], resumed: bool = False) -> None:
        bar.update(marker["num_input"] * settings.num_per_cut)
        for item in marker["skipped"]:
            if not resumed:
                bar.write(f"skipped {item['id']}: {item['reason']}")
        if marker.get("unfinished"):
            failed.extend(marker["skipped"])
        else:  # a summary only: the driver must not hold every output id (flat memory)
            markers[marker["shard"]] = {"num_cuts": len(marker["cuts"]), "skipped": marker["skipped"]}
        bar.set_postfix(shards=len(markers), in_flight=len(pending), failed=len(failed), refresh=False)

    def wait_one() -> None:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            pending.pop(ref)
            finish(ray.get(ref))

    try:
        for index, chunk in _shards(stream, shard_size):
            ids = [c.id for c in chunk]
            old = read_marker(out, index)
            if old is not None:
                if old.get("input_digest") != ids_digest(ids):
                    raise InputError(f"shard {index} was built from other input cuts (first now: {ids[0]!r}); "
                                     "the input changed since the first run: use a new output directory",
                                     source=str(out))
                finish(old, resumed=True)
                continue
            while len(pending) >= max_in_flight:
                wait_one()
            ref = task.remote(index, [c.to_dict() for c in chunk], settings_ref, bank_ref, str(out), on_error,
                              task_hook)
            pending[ref] = index
        while pending:
            wait_one()
    finally:
        bar.close()
        if pending:  # interrupted: stop the tasks (they clean up their temporary folder; no marker)
            for ref in pending:
                ray.cancel(ref)

    shards = sorted(markers)
    skipped = [item for i in shards for item in markers[i]["skipped"]]
    write_bytes_atomically(out / SKIPPED, "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in skipped)
                           .encode("utf-8"))
    shutil.rmtree(out / TMP_DIR, ignore_errors=True)
    if failed:
        listing = "; ".join(f"{x['id']}: {x['reason']}" for x in failed[:10])
        more = f" (+{len(failed) - 10} more)" if len(failed) > 10 else ""
        raise InputError(f"{len(failed)} cut(s) could not be degraded, their shards are left unfinished "
                         f"(fix and rerun, or use on_error='skip'): {listing}{more}", source="cuts")
    with_cuts = [i for i in shards if markers[i]["num_cuts"]]
    if not with_cuts:
        return CutSet.from_cuts([])
    paths = [shard_paths(out, i) for i in with_cuts]
    return CutSet.from_shar(fields={"cuts": [str(p["cuts"]) for p in paths],
                                    "recording": [str(p["recording"]) for p in paths]})


def count_built(output_dir: str | Path) -> tuple[int, int]:
    """(degraded cuts, skipped cuts) over every finished shard of a Ray build: exact, from the markers."""
    n = s = 0
    for path in sorted((Path(output_dir) / MARKER_DIR).glob("*.json")):
        m = json.loads(path.read_text(encoding="utf-8"))
        n += len(m["cuts"])
        s += len(m["skipped"])
    return n, s
