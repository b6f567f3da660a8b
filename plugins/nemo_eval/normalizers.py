"""Text normalisers: raw transcript -> the space-separated tokens WER is computed on.

Every normaliser has a name and a version (:data:`NORMALIZER_VERSIONS`); a metrics file records
both, because scores made with different normalisers (or versions) are not comparable. Part of the
project's one text module, :mod:`nemo_wild_eval.text` (import from there).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Callable

__all__ = ["NORMALIZERS", "NORMALIZER_VERSIONS", "get_normalizer", "normalize", "parse_asr_output"]


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
