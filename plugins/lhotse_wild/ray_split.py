"""Distributed base-WER pass for ``wildasr split``: the split's per-cut scoring, mapped over Ray actors.

    from lhotse_wild.ray_split import attach_base_wer_ray
    scored = attach_base_wer_ray(cuts, get_transcriber("pocketsphinx"), cache="out/base_wer_cache.jsonl")

Why actors: an ASR model (pocketsphinx decoder, an HF/vLLM model on a GPU) is loaded once per worker
and reused for every batch, not once per task. Each actor runs :func:`lhotse_wild.split.base_wer_record`
— the function the in-process pass uses — so the records are the same whichever path made them, and
they go to the same resumable cache (``split.load_cache`` format): a rerun transcribes only what is
missing. At most ``2 × actors`` batches are in flight (flat memory). An actor that dies is restarted
and its batch retried by Ray; a cut whose audio is corrupt is reported with its id while the rest
proceeds (``on_error="raise"`` raises once everything else is cached, ``"skip"`` drops it).
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from lhotse_wild.ray_build import ensure_ray
from lhotse_wild.split import apply_base_wer, base_wer_record, load_cache
from nemo_wild_eval.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from lhotse import CutSet
    from lhotse.cut import Cut

    from lhotse_wild.split import Transcriber


class ASRWorker:
    """Holds one transcriber (pickled once to the actor) and scores batches of cut manifests."""

    def __init__(self, transcriber: "Transcriber", normalizer: str, nbest: int):
        self.transcriber, self.normalizer, self.nbest = transcriber, normalizer, nbest

    def records(self, cut_dicts: list[dict]) -> list[dict[str, Any]]:
        from lhotse.cut.set import deserialize_cut

        out = []
        for d in cut_dicts:
            cut = deserialize_cut(d)
            try:
                out.append(base_wer_record(cut, self.transcriber, self.normalizer, self.nbest))
            except InputError as exc:
                out.append({"cut_id": cut.id, "error": str(exc)})
        return out


def compute_records_ray(
    cuts: Iterable["Cut"],
    transcriber: "Transcriber",
    normalizer: str = "whisper_en",
    *,
    nbest: int = 0,
    cache: str | Path | None = None,
    num_workers: int | None = None,
    batch_size: int = 16,
    num_cpus_per_worker: float = 1.0,
    num_gpus_per_worker: float = 0.0,
    address: str | None = None,
    progress: bool = True,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    """(records by cut id, errors) for every cut; cached records are reused, new ones appended.

    ``num_workers`` actors (default: the cluster's CPUs / ``num_cpus_per_worker``); give a GPU model
    ``num_gpus_per_worker=1``.
    """
    from tqdm.auto import tqdm

    ray = ensure_ray(address)
    done = load_cache(cache, transcriber.name, normalizer) if cache else {}
    if nbest > 0:
        done = {k: r for k, r in done.items() if "nbest" in r}
    ids: list[str] = []
    seen: set[str] = set()
    todo: list[Any] = []
    for c in cuts:
        if c.id in seen:
            raise InputError(f"duplicate cut id {c.id!r} in the input CutSet", source="cuts")
        seen.add(c.id)
        ids.append(c.id)
        if c.id not in done:
            todo.append(c)
    if num_workers is None:
        num_workers = int(ray.cluster_resources().get("CPU", 1) // max(num_cpus_per_worker, 1e-9)) or 1
    num_workers = max(1, min(int(num_workers), -(-len(todo) // batch_size) or 1))
    errors: list[dict[str, str]] = []
    bar = tqdm(total=len(ids), initial=len(ids) - len(todo), desc="base WER (ray)", unit="cut",
               disable=not progress)
    fh = None
    if todo:
        actor_cls = ray.remote(ASRWorker).options(num_cpus=num_cpus_per_worker, num_gpus=num_gpus_per_worker,
                                                  max_restarts=2, max_task_retries=2)
        actors = [actor_cls.remote(transcriber, normalizer, nbest) for _ in range(num_workers)]
        if cache:
            Path(cache).parent.mkdir(parents=True, exist_ok=True)
            fh = open(cache, "a", encoding="utf-8")
        batches = iter(lambda it=iter(todo): list(islice(it, batch_size)), [])
        pending: dict[Any, Any] = {}
        free = [a for a in actors for _ in range(2)]  # two batches queued per actor
        try:
            for batch in batches:
                if not free:
                    ref = _wait(ray, pending)
                    free.append(_collect(ray, ref, pending, done, errors, fh, bar))
                actor = free.pop()
                pending[actor.records.remote([c.to_dict() for c in batch])] = actor
            while pending:
                ref = _wait(ray, pending)
                _collect(ray, ref, pending, done, errors, fh, bar)
        finally:
            bar.close()
            if fh is not None:
                fh.close()
            for a in actors:
                ray.kill(a)
    else:
        bar.close()
    failed = {e["cut_id"] for e in errors}
    return {i: done[i] for i in ids if i not in failed}, errors


def _wait(ray: Any, pending: dict[Any, Any]) -> Any:
    ready, _ = ray.wait(list(pending), num_returns=1)
    return ready[0]


def _collect(ray, ref, pending, done, errors, fh, bar) -> Any:
    actor = pending.pop(ref)
    for rec in ray.get(ref):
        if "error" in rec:
            errors.append({"cut_id": rec["cut_id"], "error": rec["error"]})
            bar.write(f"base WER: skipped {rec['cut_id']}: {rec['error']}")
        else:
            done[rec["cut_id"]] = rec
            if fh is not None:
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
        bar.update(1)
    return actor


def attach_base_wer_ray(
    cuts: "CutSet | Iterable[Cut]",
    transcriber: "Transcriber",
    normalizer: str = "whisper_en",
    *,
    cache: str | Path | None = None,
    workers: int | None = None,
    on_error: str = "raise",
    progress: bool = True,
    **ray_kwargs: Any,
) -> "CutSet":
    """Ray twin of :func:`lhotse_wild.split.attach_base_wer`: same records, same ``custom`` fields.

    Call-compatible with it (``workers``: number of ASR actors; None or 1 = one per cluster CPU), so
    ``wildasr split --ray`` only swaps the function. ``ray_kwargs`` go to :func:`compute_records_ray`
    (``address``, ``batch_size``, ``num_gpus_per_worker``, ...).
    """
    from lhotse import CutSet

    if on_error not in ("raise", "skip"):
        raise InputError(f"on_error must be 'raise' or 'skip', got {on_error!r}", source="on_error")
    if workers is not None and int(workers) > 1:
        ray_kwargs.setdefault("num_workers", int(workers))
    cuts = list(cuts)
    recs, errors = compute_records_ray(cuts, transcriber, normalizer, cache=cache, progress=progress, **ray_kwargs)
    if errors and on_error == "raise":
        listing = "; ".join(f"{e['cut_id']}: {e['error']}" for e in errors[:10])
        raise InputError(f"{len(errors)} cut(s) could not be transcribed (the others are cached; fix and rerun, "
                         f"or skip them): {listing}", source="cuts")
    return CutSet.from_cuts(apply_base_wer(c, recs[c.id]) for c in cuts if c.id in recs)
