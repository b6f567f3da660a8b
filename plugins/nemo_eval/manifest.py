"""Manifest readers: NeMo manifests, NeMo ``speech_to_text_eval.py`` output, Voices-in-the-Wild-Bench.

Every input is JSON Lines, one utterance per line. The format is detected per file from its first
JSON object (or forced with ``fmt=`` / explicit ``ref_key``/``hyp_key``):

===========  ====================================  ==========================================
format       reference / hypothesis keys           recognised by
===========  ====================================  ==========================================
``nemo``     ``text`` / ``pred_text``              ``text`` or ``pred_text`` present (NeMo
                                                   ``transcribe_speech.py`` and
                                                   ``speech_to_text_eval.py`` output alike)
``vitw``     ``answer`` / ``prediction``           ``answer`` or ``prediction`` present
                                                   (Voices-in-the-Wild-Bench)
``skills``   ``expected_answer`` / ``generation``  ``generation`` or ``expected_answer``
                                                   present (NeMo-Skills ``output.jsonl``)
===========  ====================================  ==========================================

Hypotheses in Qwen3-ASR's raw form (``language English<asr_text>...``) are reduced to the transcript
with :func:`nemo_wild_eval.text.parse_asr_output`.

Bad lines (malformed JSON, not an object, not UTF-8, a missing or non-string reference/hypothesis,
an empty reference) raise :class:`~nemo_wild_eval.errors.InputError` naming file and line; with
``skip_bad=True`` they are returned as :class:`BadLine` records instead (the caller reports them).
Blank lines are not data and are ignored, as NeMo does.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from nemo_wild_eval.errors import InputError

try:  # orjson is ~3x faster than json on manifest lines; optional (json is the fallback)
    import orjson as _orjson

    _loads_fast: Callable[[bytes], Any] = _orjson.loads
except ImportError:  # pragma: no cover - orjson is in the lock

    def _loads_fast(raw: bytes) -> Any:
        return json.loads(raw.decode("utf-8"))

__all__ = ["FORMATS", "BadLine", "ManifestData", "detect_format", "read_manifests", "get_path"]

# format -> (reference key, hypothesis key)
FORMATS: dict[str, tuple[str, str]] = {
    "nemo": ("text", "pred_text"),
    "vitw": ("answer", "prediction"),
    "skills": ("expected_answer", "generation"),
}


@dataclass(frozen=True)
class BadLine:
    """A line that could not be scored: where it is and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ManifestData:
    """Parsed utterances, column-wise (no per-utterance objects beyond the original dicts)."""

    records: list[dict]
    refs: list[str]
    hyps: list[str]
    source_index: list[int]  # index into ``sources`` per record
    lines: list[int]  # 1-based line number per record
    sources: list[str]
    formats: dict[str, str]  # source -> detected format
    skipped: list[BadLine]
    raw_hyps_changed: int = 0  # hypotheses rewritten by parse_asr_output
    ref_keys: dict[str, str] = field(default_factory=dict)  # source -> reference key used
    hyp_keys: dict[str, str] = field(default_factory=dict)  # source -> hypothesis key used


def get_path(record: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """``record[key]``, or a dotted path into nested dicts (``wild.severity``) when ``key`` is absent."""
    if key in record:
        return record[key]
    if "." not in key:
        return default
    cur: Any = record
    for part in key.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return default
        cur = cur[part]
    return cur


def detect_format(record: Mapping[str, Any]) -> str | None:
    """``nemo`` / ``vitw`` from one record's keys, or None when neither fits."""
    if "pred_text" in record:
        return "nemo"
    if "prediction" in record or "answer" in record:
        return "vitw"
    if "generation" in record or "expected_answer" in record:
        return "skills"
    if "text" in record:
        return "nemo"
    return None


def _decode_error(exc: UnicodeDecodeError) -> str:
    bad = exc.object[exc.start : exc.start + 1]
    return f"not valid UTF-8 (byte 0x{bad.hex()} at column {exc.start + 1}); re-encode the file as UTF-8"


def _parse_line(raw: bytes) -> tuple[Any, str | None]:
    """(object, None) or (None, reason); the stdlib parser gives the message (and accepts NaN)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, _decode_error(exc)
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON ({exc.msg} at column {exc.colno})"


class _Progress:
    """A tqdm bar over bytes, only for files big enough to take a moment (and only on a terminal)."""

    def __init__(self, path: Path, enabled: bool):
        self.bar = None
        size = os.path.getsize(path)
        if enabled and size > 8 << 20:
            from tqdm import tqdm

            self.bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"read {path.name}", leave=False, disable=None)

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def read_manifests(
    inputs: str | os.PathLike | Iterable[Any],
    *,
    fmt: str = "auto",
    ref_key: str | None = None,
    hyp_key: str | None = None,
    need_hyp: bool = True,
    skip_bad: bool = False,
    progress: bool = False,
) -> ManifestData:
    """Read one or more manifests (paths) or in-memory records (an iterable of dicts).

    ``inputs`` may be a path, a list of paths, or an iterable of dicts (source ``<records>``, line =
    1-based position). ``need_hyp=False`` accepts records without a hypothesis (they get ``""``);
    used when a NeMo model produces the hypotheses.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose auto, {', '.join(FORMATS)}")
    data = ManifestData([], [], [], [], [], [], {}, [])
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    items = list(inputs) if not isinstance(inputs, list) else inputs
    if items and all(isinstance(x, (str, os.PathLike)) for x in items):
        for p in items:
            path = Path(p)
            if not path.is_file():
                raise InputError("no such manifest file" if not path.exists() else "not a file", source=str(p))
            bar = _Progress(path, progress)
            try:
                with open(path, "rb") as f:
                    _read_one(str(p), f, True, data, fmt, ref_key, hyp_key, need_hyp, skip_bad, bar)
            finally:
                bar.close()
    else:
        for x in items:
            if isinstance(x, (str, os.PathLike)):
                raise InputError("mix of paths and records; pass one kind", source=str(x))
        _read_one("<records>", items, False, data, fmt, ref_key, hyp_key, need_hyp, skip_bad, None)
    return data


def _field_problem(rec: Mapping[str, Any], key: str, what: str) -> str:
    if key not in rec:
        return f"missing {what} {key!r}"
    value = rec[key]
    if value is None:
        return f"{what} {key!r} is null"
    return f"{what} {key!r} is a {type(value).__name__}, not a string"


def _read_one(source, lines, raw_lines: bool, data: ManifestData, fmt, ref_key, hyp_key, need_hyp, skip_bad, bar) -> None:
    from nemo_wild_eval.text import parse_asr_output

    src_idx = len(data.sources)
    data.sources.append(source)
    records, refs, hyps, srcs, lnos = data.records, data.refs, data.hyps, data.source_index, data.lines
    skipped = data.skipped
    file_fmt: str | None = None
    rk = hk = None
    if fmt != "auto":
        file_fmt = fmt
        rk, hk = ref_key or FORMATS[fmt][0], hyp_key or FORMATS[fmt][1]
    elif ref_key and hyp_key:
        file_fmt, rk, hk = "custom", ref_key, hyp_key
    changed = 0

    def bad(line: int, reason: str) -> None:
        if not skip_bad:
            raise InputError(f"{reason} (--skip-bad / skip_bad=True reports and skips such lines)", source=source, line=line)
        skipped.append(BadLine(source, line, reason))

    loads = _loads_fast
    nbytes = 0
    for lineno, rec in enumerate(lines, 1):
        if raw_lines:
            raw = rec
            if bar is not None:
                nbytes += len(raw)
                if lineno & 0x3FFF == 0:
                    bar.update(nbytes)
            try:
                rec = loads(raw)  # type: ignore[misc]
            except Exception:  # blank line, BOM, bad UTF-8, malformed JSON, NaN, or no orjson
                if not raw.strip() or raw.strip() == b"\xef\xbb\xbf":
                    continue
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                rec, why = _parse_line(raw)
                if why is not None:
                    if lineno == 1 and raw.lstrip().startswith(b"["):
                        why += "; the file looks like one JSON array, not JSON Lines (convert: jq -c '.[]')"
                    bad(lineno, why)
                    continue
        if type(rec) is not dict and not isinstance(rec, dict):
            why = f"expected a JSON object, got {type(rec).__name__}"
            if lineno == 1 and isinstance(rec, list):
                why += "; the file looks like one JSON array, not JSON Lines (convert: jq -c '.[]')"
            bad(lineno, why)
            continue
        if rk is None:  # format not known yet: detect it from the first object of this input
            detected = detect_format(rec)
            if detected is None:
                bad(
                    lineno,
                    "cannot tell the manifest format: expected NeMo keys (text, pred_text) or "
                    f"Voices-in-the-Wild-Bench keys (answer, prediction), got {sorted(rec)[:8]}; "
                    "pass --ref-key/--hyp-key",
                )
                continue
            file_fmt = detected
            rk, hk = ref_key or FORMATS[detected][0], hyp_key or FORMATS[detected][1]
        ref = rec.get(rk)
        if type(ref) is not str:
            bad(lineno, _field_problem(rec, rk, "reference"))
            continue
        if not ref or ref.isspace():
            bad(lineno, f"empty reference {rk!r}")
            continue
        hyp = rec.get(hk)
        if type(hyp) is not str:
            if not need_hyp:  # a model will produce the hypotheses
                hyp = ""
            else:
                bad(lineno, _field_problem(rec, hk, "hypothesis"))
                continue
        if "<asr_text>" in hyp:
            parsed = parse_asr_output(hyp)
            if parsed != hyp:
                changed += 1
                hyp = parsed
        records.append(rec)
        refs.append(ref)
        hyps.append(hyp)
        srcs.append(src_idx)
        lnos.append(lineno)
    data.formats[source] = file_fmt or "empty"
    data.ref_keys[source] = rk or ref_key or "text"
    data.hyp_keys[source] = hk or hyp_key or "pred_text"
    data.raw_hyps_changed += changed
