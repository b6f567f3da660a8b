"""The project's ONE text module: normalisers, tokenisation and alignment.

Both the evaluator (``nemo_wild_eval``) and the RL reward (``verl_dgwgpo``) import from here, so the
training signal is computed exactly like the evaluation metric.

Aligner: rapidfuzz's Levenshtein ``opcodes`` over token sequences (unit costs). jiwer 4 uses the same
routine, so our S/I/D splits equal jiwer's; NeMo's ``word_error_rate_detail`` uses its own DP whose
S/I/D split can differ on ties while the total edit count (and hence WER) is the same.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Sequence

from rapidfuzz.distance import Levenshtein

__all__ = [
    "NORMALIZERS",
    "NORMALIZER_VERSIONS",
    "Alignment",
    "align",
    "align_words",
    "normalize",
    "tokenize",
    "parse_asr_output",
    "char_similarity",
    "edit_counts",
    "edit_counts_many",
    "substitutions_and_counts",
    "tokenize_many",
    "tokenizer_for",
]

# Bump a version whenever a normaliser's output changes for some input: scores from different
# versions are not comparable, so every metrics file records the version it used.
NORMALIZER_VERSIONS: dict[str, str] = {
    "whisper_en": "whisper_en-1",  # whisper_normalizer.english.EnglishTextNormalizer
    "zh": "zh-1",  # NFKC, lowercase, punctuation dropped, one token per CJK char, Latin words whole
    "basic": "basic-1",  # lowercase, punctuation -> space, collapse spaces (NeMo-style plain)
    "none": "none-1",  # whitespace split only
    "nemo": "nemo-1",  # NeMo cal_write_wer(ignore_punctuation=True, ignore_capitalization=True)
}

_QWEN_ASR_RE = re.compile(r"^\s*language\s+[^<]*<asr_text>(.*)$", re.DOTALL | re.IGNORECASE)
_ASR_END_RE = re.compile(r"</asr_text>.*$", re.DOTALL)


def parse_asr_output(text: str) -> str:
    """Return the transcript from a Qwen3-ASR raw output (``language English<asr_text>...``).

    Any other string is returned unchanged, so this is safe on every model's output.
    """
    m = _QWEN_ASR_RE.match(text)
    if m is None:
        if "<asr_text>" in text:  # prefix without the 'language X' header
            text = text.split("<asr_text>", 1)[1]
        else:
            return text
    else:
        text = m.group(1)
    return _ASR_END_RE.sub("", text).strip()


def _is_punct_or_symbol(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "PS"


def _basic(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    # Keep apostrophes inside words ("don't"), drop every other punctuation/symbol char.
    out = []
    for i, ch in enumerate(text):
        if ch == "'" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum():
            out.append(ch)
        elif _is_punct_or_symbol(ch) or unicodedata.category(ch)[0] == "C":
            out.append(" ")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0xF900 <= cp <= 0xFAFF
        or 0x3040 <= cp <= 0x30FF  # kana
        or 0x2A700 <= cp <= 0x2CEAF
    )


def _zh(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    out = []
    for ch in text:
        if _is_cjk(ch):
            out.append(f" {ch} ")
        elif _is_punct_or_symbol(ch) or unicodedata.category(ch)[0] == "C":
            out.append(" ")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _none(text: str) -> str:
    return " ".join(text.split())


# NeMo's remove_punctuations() default list (nemo/collections/asr/parts/utils/eval_utils.py): these
# characters are DELETED, not replaced by a space ("well-known" -> "wellknown"); the apostrophe stays.
_NEMO_PUNCTUATION = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'
_NEMO_TABLE = str.maketrans("", "", _NEMO_PUNCTUATION)


def _nemo(text: str) -> str:
    """What NeMo's ``speech_to_text_eval.py`` scores with ``ignore_punctuation`` and
    ``ignore_capitalization``: punctuation deleted, then ``str.lower``, then whitespace split."""
    return " ".join(text.translate(_NEMO_TABLE).lower().split())


@lru_cache(maxsize=1)
def _whisper_en_impl() -> Callable[[str], str]:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


# The fast route below was audited against this exact release of whisper_normalizer (its english.py and
# basic.py); any other version gets the library's own ``EnglishTextNormalizer.__call__``.
_WHISPER_AUDITED_VERSION = "0.1.15"


class _WhisperEnFast:
    r"""``EnglishTextNormalizer()(s)``, same output, several times faster on typical sentences.

    It runs the library's own stages (its regexes, ``replacers``, ``standardize_numbers``,
    ``standardize_spellings``, ``remove_symbols_and_diacritics``) in the library's order, and skips a
    stage only where it provably cannot change the string:

    - a regex pass is skipped when a character its pattern requires is absent;
    - the 53 ``replacers`` substitutions run only if some pattern can match: with no match anywhere the
      first substitution is the identity, so (by induction) all are. ``\bWORD\b`` patterns are tested as
      a set lookup of the string's ``\w+`` runs, apostrophe patterns by their literal text (a necessary
      condition); versions whose patterns have another shape use one alternation regex of all patterns;
    - the number normaliser returns ``" ".join(s.split())`` when ``s`` has no decimal digit (``\d``), no
      ``"half"`` and no word of its vocabulary except ``and``: then no branch of ``process_words`` ever sets
      a value or prefix, ``and`` is emitted unchanged, ``preprocess`` and ``postprocess`` need digits;
    - ``remove_symbols_and_diacritics`` maps each character of the NFKD string independently, so it is
      ``str.translate`` with a table whose entry for ``c`` is the library's own output for ``c``.
    tests/test_eval_text_fast.py checks equality on the shipped sentences, hand-written edge cases and
    random strings.
    """

    def __init__(self, lib) -> None:
        from whisper_normalizer.basic import remove_symbols_and_diacritics

        self._lib = lib
        self._brackets = re.compile(r"[<\[][^>\]]*[>\]]")
        self._parens = re.compile(r"\(([^)]+?)\)")
        self._ignore = re.compile(lib.ignore_patterns)
        self._space_apos = re.compile(r"\s+'")
        self._replacers = [(re.compile(p), r) for p, r in lib.replacers.items()]
        self._any_replacer = re.compile("|".join(f"(?:{p})" for p in lib.replacers))
        # Patterns without an apostrophe that are ``\bWORD\b`` (WORD all word characters) match exactly
        # when WORD is one of the string's maximal ``\w+`` runs: a set test instead of 53 regex scans.
        plain = [p for p in lib.replacers if "'" not in p]
        whole = [p[2:-2] for p in plain if p.startswith(r"\b") and p.endswith(r"\b")]
        whole_ok = len(whole) == len(plain) and all(re.fullmatch(r"\w+", w) for w in whole)
        self._replacer_words = frozenset(whole) if whole_ok else None
        self._word_runs = re.compile(r"\w+")
        # A pattern with an apostrophe can only match where its text without ``\b`` occurs verbatim.
        literals = [p.replace(r"\b", "") for p in lib.replacers if "'" in p]
        literals_ok = all(re.fullmatch(r"[\w' ]+", t) for t in literals)
        self._replacer_literals = tuple(literals) if literals_ok else None
        self._digit_comma = re.compile(r"(\d),(\d)")
        self._period = re.compile(r"\.([^0-9]|$)")
        self._keep = ".%$¢€£"
        self._symbols = _CharTable(lambda ch: remove_symbols_and_diacritics(ch, keep=self._keep))
        numbers = lib.standardize_numbers
        self._numbers = numbers
        self._number_words = frozenset(numbers.words) - {"and"}
        self._digit = re.compile(r"\d")
        self._spellings = lib.standardize_spellings
        self._prefix_sym = re.compile(r"[.$¢€£]([^0-9])")
        self._percent = re.compile(r"([^0-9])%")
        self._spaces = re.compile(r"\s+")

    def __call__(self, s: str) -> str:
        s = s.lower()
        if "<" in s or "[" in s:
            s = self._brackets.sub("", s)
        if "(" in s:
            s = self._parens.sub("", s)
        s = self._ignore.sub("", s)
        if "'" in s:
            s = self._space_apos.sub("'", s)
        if self._replacer_words is None or self._replacer_literals is None:
            fire = self._any_replacer.search(s) is not None
        else:
            fire = not self._replacer_words.isdisjoint(self._word_runs.findall(s)) or (
                "'" in s and any(t in s for t in self._replacer_literals)
            )
        if fire:
            for pattern, replacement in self._replacers:
                s = pattern.sub(replacement, s)
        if "," in s:
            s = self._digit_comma.sub(r"\1\2", s)
        if "." in s:
            s = self._period.sub(r" \1", s)
        s = unicodedata.normalize("NFKD", s).translate(self._symbols)
        words = s.split()
        if (
            "half" in s
            or self._digit.search(s) is not None
            or not self._number_words.isdisjoint(words)
        ):
            s = self._numbers(s)
        else:
            s = " ".join(words)
        s = self._spellings(s)
        if "." in s or "$" in s or "¢" in s or "€" in s or "£" in s:
            s = self._prefix_sym.sub(r" \1", s)
        if "%" in s:
            s = self._percent.sub(r"\1 ", s)
        return self._spaces.sub(" ", s)


@lru_cache(maxsize=1)
def _whisper_en_route() -> Callable[[str], str]:
    """The audited fast route, or the library itself for any other whisper_normalizer version."""
    from importlib.metadata import version

    lib = _whisper_en_impl()
    if version("whisper_normalizer") != _WHISPER_AUDITED_VERSION:
        return lib
    return _WhisperEnFast(lib)


def _whisper_en(text: str) -> str:
    return " ".join(_whisper_en_route()(text).split())


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "whisper_en": _whisper_en,
    "zh": _zh,
    "basic": _basic,
    "none": _none,
    "nemo": _nemo,
}


def get_normalizer(name: str) -> Callable[[str], str]:
    try:
        return NORMALIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown normalizer {name!r}; choose one of {sorted(NORMALIZERS)}"
        ) from None


def normalize(text: str, normalizer: str = "whisper_en") -> str:
    """Normalise ``text`` with the named normaliser; the result's tokens are space-separated."""
    if not isinstance(text, str):
        raise TypeError(f"expected a str to normalise, got {type(text).__name__}")
    return get_normalizer(normalizer)(text)


def tokenize(text: str, normalizer: str = "whisper_en") -> list[str]:
    """Normalise then split into scoring tokens (words; single characters for CJK under ``zh``)."""
    return normalize(text, normalizer).split()


@dataclass(frozen=True)
class Alignment:
    """Result of aligning a hypothesis to a reference.

    ``pairs`` lists every aligned position in order as ``(op, ref_token, hyp_token)`` with op one of
    ``equal``, ``substitute``, ``insert`` (ref_token None) and ``delete`` (hyp_token None).
    """

    correct: int
    substitutions: int
    insertions: int
    deletions: int
    ref_len: int
    hyp_len: int
    pairs: tuple[tuple[str, str | None, str | None], ...] = field(default=(), repr=False)

    @property
    def errors(self) -> int:
        return self.substitutions + self.insertions + self.deletions

    @property
    def wer(self) -> float:
        """Error rate; ``inf``-free: an empty reference gives 0.0 (empty hyp) or 1.0 (anything else)."""
        if self.ref_len == 0:
            return 0.0 if self.hyp_len == 0 else 1.0
        return self.errors / self.ref_len


_object_new = object.__new__


def _new_alignment(
    correct: int, substitutions: int, insertions: int, deletions: int, ref_len: int, hyp_len: int,
    pairs: tuple[tuple[str, str | None, str | None], ...],
) -> Alignment:
    """``Alignment(...)`` without the frozen dataclass's per-field ``object.__setattr__`` calls (half the
    cost; the reward builds one per rollout). Same fields, so ``==``, ``hash`` and ``repr`` agree."""
    a = _object_new(Alignment)
    a.__dict__.update(
        correct=correct, substitutions=substitutions, insertions=insertions, deletions=deletions,
        ref_len=ref_len, hyp_len=hyp_len, pairs=pairs,
    )
    return a


def align(
    ref: Sequence[str], hyp: Sequence[str], with_pairs: bool = True, *, substitutions_only: bool = False
) -> Alignment:
    """Align two token sequences (Levenshtein, unit costs, rapidfuzz opcodes).

    ``substitutions_only=True`` (with ``with_pairs``) keeps only the ``substitute`` pairs, in the same
    order, without building the others: for callers that only look at substitutions (the reward).
    """
    n, m = len(ref), len(hyp)
    if n == 0 or m == 0:
        pairs = tuple(("delete", r, None) for r in ref) + tuple(("insert", None, h) for h in hyp)
        return Alignment(0, 0, m, n, n, m, pairs if with_pairs and not substitutions_only else ())
    if with_pairs and substitutions_only:
        sub_pairs, i, d = substitutions_and_counts(ref, hyp)
        s = len(sub_pairs)
        subs = tuple([("substitute", r, h) for r, h in sub_pairs])
        return _new_alignment(n - s - d, s, i, d, n, m, subs)
    if not with_pairs:
        # Counts straight from editops: cheaper than building opcode blocks.
        s = i = d = 0
        for op in Levenshtein.editops(ref, hyp):
            tag = op[0]
            if tag == "replace":
                s += 1
            elif tag == "insert":
                i += 1
            else:
                d += 1
        return Alignment(n - s - d, s, i, d, n, m)
    s = i = d = 0
    pairs: list[tuple[str, str | None, str | None]] = []
    for tag, i1, i2, j1, j2 in Levenshtein.opcodes(ref, hyp):
        if tag == "equal":
            pairs.extend(("equal", ref[k], hyp[j1 + k - i1]) for k in range(i1, i2))
        elif tag == "replace":
            k = min(i2 - i1, j2 - j1)
            pairs.extend(("substitute", ref[i1 + t], hyp[j1 + t]) for t in range(k))
            pairs.extend(("delete", ref[t], None) for t in range(i1 + k, i2))
            pairs.extend(("insert", None, hyp[t]) for t in range(j1 + k, j2))
            s += k
            d += (i2 - i1) - k
            i += (j2 - j1) - k
        elif tag == "delete":
            pairs.extend(("delete", ref[k], None) for k in range(i1, i2))
            d += i2 - i1
        elif tag == "insert":
            pairs.extend(("insert", None, hyp[k]) for k in range(j1, j2))
            i += j2 - j1
    return Alignment(n - s - d, s, i, d, n, m, tuple(pairs))


def substitutions_and_counts(
    ref: Sequence[str], hyp: Sequence[str]
) -> tuple[list[tuple[str, str]], int, int]:
    """``([(ref_token, hyp_token) per substitution], insertions, deletions)`` of :func:`align`.

    The same alignment as ``align(ref, hyp, substitutions_only=True)`` without building an
    :class:`Alignment` (the reward's hot path). rapidfuzz's opcodes are merged editops, so the
    ``replace`` editops are exactly the substitute pairs, in order.
    """
    n, m = len(ref), len(hyp)
    if n == 0 or m == 0:
        return [], m, n
    ops = Levenshtein.editops(ref, hyp).as_list()
    subs = [(ref[sp], hyp[dp]) for tag, sp, dp in ops if tag == "replace"]
    # i + d = #ops - s and d - i = n - m (every deletion/insertion changes the length by one)
    rest = len(ops) - len(subs)
    d = (rest + n - m) // 2
    return subs, rest - d, d


def align_words(
    reference: str, hypothesis: str, normalizer: str = "whisper_en", with_pairs: bool = True
) -> Alignment:
    """Normalise both strings with the same normaliser, tokenise, and align."""
    return align(tokenize(reference, normalizer), tokenize(hypothesis, normalizer), with_pairs)


def char_similarity(a: str, b: str) -> float:
    """``1 - lev(a, b) / max(|a|, |b|)`` in [0, 1] (1.0 for two empty strings)."""
    if not a and not b:
        return 1.0
    return 1.0 - Levenshtein.distance(a, b) / max(len(a), len(b))


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


class _CharTable(dict):
    """``str.translate`` table filled lazily, one Unicode category lookup per distinct character."""

    def __init__(self, rule: Callable[[str], str | None]):
        super().__init__()
        self._rule = rule

    def __missing__(self, cp: int):
        out = self._rule(chr(cp))
        value = cp if out is None else out
        self[cp] = value
        return value


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


def edit_counts(ref: Sequence[str], hyp: Sequence[str]) -> tuple[int, int, int]:
    """``(substitutions, insertions, deletions)`` of ``align(ref, hyp, with_pairs=False)``, no objects built."""
    if ref == hyp:
        return 0, 0, 0
    n, m = len(ref), len(hyp)
    if n == 0 or m == 0:
        return 0, m, n
    tags = [op[0] for op in Levenshtein.editops(ref, hyp).as_list()]
    s = tags.count("replace")
    i = tags.count("insert")
    return s, i, len(tags) - s - i


def edit_counts_many(
    refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]
) -> tuple[list[int], list[int], list[int]]:
    """``edit_counts`` over parallel lists: three lists (substitutions, insertions, deletions)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    n = len(refs)
    S = [0] * n
    I = [0] * n
    D = [0] * n
    editops = Levenshtein.editops
    for k, (r, h) in enumerate(zip(refs, hyps)):
        if r is h or r == h:
            continue
        if not r or not h:
            I[k] = len(h)
            D[k] = len(r)
            continue
        tags = [op[0] for op in editops(r, h).as_list()]
        s = tags.count("replace")
        i = tags.count("insert")
        S[k] = s
        I[k] = i
        D[k] = len(tags) - s - i
    return S, I, D
