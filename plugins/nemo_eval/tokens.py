"""Tokenisation: normalised text -> scoring tokens, one string or many at once.

``tokenize`` is the definition; ``tokenizer_for`` and ``tokenize_many`` are faster routes that give
the same tokens (tests/test_eval_text_fast.py fuzzes that). Part of :mod:`nemo_wild_eval.text`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable, Sequence

from nemo_wild_eval.normalizers import _NEMO_PUNCTUATION, _CharTable, _is_cjk, _nemo, get_normalizer, normalize

__all__ = ["tokenize", "tokenize_many", "tokenizer_for"]


def tokenize(text: str, normalizer: str = "whisper_en") -> list[str]:
    """Normalise then split into scoring tokens (words; single characters for CJK under ``zh``)."""
    return normalize(text, normalizer).split()


# ---------------------------------------------------------------------------------------------
# Bulk helpers (added for the scorer's hot loop). They never change what a normaliser outputs:
# ``tokenize_many(texts, name)`` equals ``[tokenize(t, name) for t in texts]`` and ``edit_counts``
# equals the counts of ``align(ref, hyp, with_pairs=False)``; tests/test_eval_text_fast.py fuzzes both.
# ---------------------------------------------------------------------------------------------

# In-word apostrophe rule of ``_basic`` as a regex: an apostrophe is dropped unless both neighbours are
# alphanumeric (``[^\W_]`` is exactly ``str.isalnum`` for one character).
_APOS_DROP_RE = re.compile(r"(?<![^\W_])'|'(?![^\W_])")
_APOS_DROP_RE_B = re.compile(rb"(?<![a-z0-9])'|'(?![a-z0-9])")
_ASCII_PSC = bytes(c for c in range(128) if unicodedata.category(chr(c))[0] in "PSC")
_ASCII_PSC_TABLE = bytes.maketrans(_ASCII_PSC, b" " * len(_ASCII_PSC))
_ASCII_PSC_NOAPOS = _ASCII_PSC.replace(b"'", b"")
_ASCII_PSC_NOAPOS_TABLE = bytes.maketrans(_ASCII_PSC_NOAPOS, b" " * len(_ASCII_PSC_NOAPOS))


def _basic_rule(ch: str) -> str | None:
    if ch == "'":
        return None  # apostrophes were already resolved by _APOS_DROP_RE
    return " " if unicodedata.category(ch)[0] in "PSC" else None


def _zh_rule(ch: str) -> str | None:
    if _is_cjk(ch):
        return f" {ch} "
    return " " if unicodedata.category(ch)[0] in "PSC" else None


_BASIC_TABLE = _CharTable(_basic_rule)
_ZH_TABLE = _CharTable(_zh_rule)


def _basic_tokens(text: str) -> list[str]:
    if text.isascii():  # NFKC is the identity on ASCII; bytes.translate is the fast path
        b = text.encode("ascii").lower()
        if b"'" in b:
            b = _APOS_DROP_RE_B.sub(b" ", b).translate(_ASCII_PSC_NOAPOS_TABLE)
        else:
            b = b.translate(_ASCII_PSC_TABLE)
        return b.decode("ascii").split()
    text = unicodedata.normalize("NFKC", text).lower()
    if "'" in text:
        text = _APOS_DROP_RE.sub(" ", text)
    return text.translate(_BASIC_TABLE).split()


def _zh_tokens(text: str) -> list[str]:
    if text.isascii():
        return text.encode("ascii").lower().translate(_ASCII_PSC_TABLE).decode("ascii").split()
    return unicodedata.normalize("NFKC", text).lower().translate(_ZH_TABLE).split()


_FAST_TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "basic": _basic_tokens,
    "zh": _zh_tokens,
    "none": str.split,
}


def tokenizer_for(normalizer: str) -> Callable[[str], list[str]]:
    """Return ``text -> tokens`` equal to ``tokenize(text, normalizer)`` (a faster route where one exists)."""
    fast = _FAST_TOKENIZERS.get(normalizer)
    if fast is not None:
        return fast
    fn = get_normalizer(normalizer)
    return lambda text: fn(text).split()


_ASCII_PSC_NL = _ASCII_PSC.replace(b"\n", b"")
_ASCII_PSC_NL_TABLE = bytes.maketrans(_ASCII_PSC_NL, b" " * len(_ASCII_PSC_NL))
_ASCII_PSC_NOAPOS_NL = _ASCII_PSC_NOAPOS.replace(b"\n", b"")
_ASCII_PSC_NOAPOS_NL_TABLE = bytes.maketrans(_ASCII_PSC_NOAPOS_NL, b" " * len(_ASCII_PSC_NOAPOS_NL))


def _bulk_ascii(strings: list[str], apostrophe_rule: bool) -> list[list[str]]:
    """``basic``/``zh`` tokens of many ASCII strings without newlines in a few C calls.

    The strings are joined with newlines, translated at once (the separator is kept, every other
    punctuation/symbol/control byte becomes a space), split once, and cut at the separators.
    """
    b = "\n".join(strings).encode("ascii").lower()
    if apostrophe_rule and b"'" in b:
        b = _APOS_DROP_RE_B.sub(b" ", b).translate(_ASCII_PSC_NOAPOS_NL_TABLE)
    else:
        b = b.translate(_ASCII_PSC_NL_TABLE)
    return _cut_at_separators(b, len(strings))


def _cut_at_separators(b: bytes, count: int) -> list[list[str]]:
    """Split a newline-joined blob of ``count`` strings into ``count`` token lists."""
    toks = b.replace(b"\n", b" \x00 ").decode("ascii").split()
    out = []
    append = out.append
    index = toks.index
    start = 0
    for _ in range(count - 1):
        end = index("\x00", start)
        append(toks[start:end])
        start = end + 1
    append(toks[start:])
    return out


_NEMO_DELETE_B = _NEMO_PUNCTUATION.encode("ascii")


def _bulk_ascii_nemo(strings: list[str]) -> list[list[str]]:
    """``nemo`` tokens of many ASCII strings without newlines or NULs (NUL is the blob's separator and
    a token character under ``nemo``): punctuation deleted, lowercased, split, in a few C calls."""
    b = "\n".join(strings).encode("ascii").translate(None, _NEMO_DELETE_B).lower()
    return _cut_at_separators(b, len(strings))


def _bulk_tokens(strings: list[str], normalizer: str) -> list[list[str]] | None:
    """Tokens for ``strings`` via :func:`_bulk_ascii` (ASCII ones) and the per-string route (others)."""
    if normalizer == "nemo":
        ok = [t.isascii() and "\n" not in t and "\x00" not in t for t in strings]
        easy = [t for t, good in zip(strings, ok) if good]
        easy_toks = iter(_bulk_ascii_nemo(easy) if easy else [])
        return [next(easy_toks) if good else _nemo(t).split() for t, good in zip(strings, ok)]
    if normalizer not in ("basic", "zh"):
        return None
    apos = normalizer == "basic"
    blob_ok = [t.isascii() and "\n" not in t for t in strings]
    if all(blob_ok):
        return _bulk_ascii(strings, apos)
    tok = _FAST_TOKENIZERS[normalizer]
    easy = [t for t, ok in zip(strings, blob_ok) if ok]
    easy_toks = iter(_bulk_ascii(easy, apos) if easy else [])
    return [next(easy_toks) if ok else tok(t) for t, ok in zip(strings, blob_ok)]


def tokenize_many(
    texts: Sequence[str], normalizer: str = "whisper_en", cache: dict[str, list[str]] | None = None
) -> list[list[str]]:
    """``[tokenize(t, normalizer) for t in texts]``, each distinct string normalised once.

    Equal strings share ONE token list in the result (do not mutate it). Pass ``cache`` (a dict,
    str -> tokens, for this normaliser only) to reuse work across calls.
    """
    tok = tokenizer_for(normalizer)
    if cache is None:
        cache = {}
    out = list(map(cache.get, texts))
    if None not in out:
        return out
    missing = [k for k, v in enumerate(out) if v is None]
    todo = list(dict.fromkeys([texts[k] for k in missing]))
    for t in todo:
        if not isinstance(t, str):
            raise TypeError(f"expected a str to normalise, got {type(t).__name__}")
    bulk = _bulk_tokens(todo, normalizer) if len(todo) >= 64 else None
    if bulk is not None:
        cache.update(zip(todo, bulk))
    else:
        for t in todo:
            cache[t] = tok(t)
    get = cache.__getitem__
    for k in missing:
        out[k] = get(texts[k])
    return out
