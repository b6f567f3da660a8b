"""Benchmark presets: which normaliser, which breakdowns, and how to recover breakdown keys.

A preset never downloads anything. It names the normaliser, the default ``--by`` keys, and a
``derive`` function that recovers those keys from what a manifest always has (the audio path, a
subset string, an utterance id) when the manifest does not carry them as fields. A key that IS in
the manifest always wins over a derived one.

======================  ===========  ==========================================  ==========================
preset                  normaliser   default breakdowns                          derived from
======================  ===========  ==========================================  ==========================
``chime4``              whisper_en   set (real/simu), env, set+env               ``.../et05_bus_real/...``
``voices``              whisper_en   distractor, room, mic                       ``...-rm1-babb-...-mc01-...``
``noizeus``             whisper_en   noise, snr, noise+snr                       ``sp01_airport_sn5.wav``
``librispeech``         whisper_en   subset (test-clean/test-other/...)          ``.../test-other/...``
``fleurs_en``           whisper_en   gender (when present)                       –
``fleurs_zh``           zh           gender (when present)                       –
``aishell1``            zh           split (dev/test)                            ``.../test/S0764/...``
``wenetspeech``         zh           subset (TEST_NET/TEST_MEETING/DEV)          path or utterance id
``vitw``                auto         origin (real/sim), category, origin+category ``subset``, ``combination``
======================  ===========  ==========================================  ==========================

``auto`` (Voices-in-the-Wild-Bench has English and Chinese subsets) picks ``zh`` for an utterance whose
language is Chinese (``lang``/``language`` key, or the subset's language part) or whose reference has
CJK characters, ``whisper_en`` otherwise; the error rate is then a mixed word/character rate, so read
the per-language breakdown.

A breakdown key ``a+b`` is the cross of ``a`` and ``b`` (values ``"real|noise"``). Breakdown keys no
record has are dropped with a note; records lacking a key present elsewhere go to ``(none)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

__all__ = [
    "PRESETS",
    "Preset",
    "VITW_CATEGORIES",
    "canonical_category",
    "derive_vitw",
    "get_preset",
]

Derive = Callable[[Mapping[str, Any]], dict]

AUDIO_KEYS = ("audio_filepath", "audio_path", "audio", "path", "wav")
ID_KEYS = ("utt_id", "id", "sid", "key", "utterance_id")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    normalizer: str
    by: tuple[str, ...]
    derive: Derive | None = None
    derived_keys: tuple[str, ...] = ()
    severity_key: str | None = None
    series_key: str | None = None  # one line per value of this key in the WER-vs-severity plot
    aliases: tuple[str, ...] = field(default=())
    # key -> value mapping applied to a manifest's OWN field too (``category: barrier`` -> ``obstructed``),
    # so old and new names of one condition land in one breakdown row
    canonical: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)


def _audio_path(rec: Mapping[str, Any]) -> str:
    for k in AUDIO_KEYS:
        v = rec.get(k)
        if isinstance(v, str):
            return v
    return ""


def _ident(rec: Mapping[str, Any]) -> str:
    parts = [_audio_path(rec)]
    for k in ID_KEYS:
        v = rec.get(k)
        if isinstance(v, str):
            parts.append(v)
    return " ".join(parts)


# --- CHiME-4 ------------------------------------------------------------------------------------
_CHIME4_DIR = re.compile(r"(?P<split>dt05|et05|tr05)_(?P<env>bus|caf|ped|str)_(?P<set>real|simu)", re.I)
_CHIME4_FILE = re.compile(r"_(?P<env>bus|caf|ped|str)(?:\.ch\d+)?\.(?:wav|flac)$", re.I)


def derive_chime4(rec: Mapping[str, Any]) -> dict:
    path = _ident(rec)
    m = _CHIME4_DIR.search(path)
    if m:
        return {k: v.lower() for k, v in m.groupdict().items()}
    m = _CHIME4_FILE.search(_audio_path(rec))
    return {"env": m.group("env").lower()} if m else {}


# --- VOiCES -------------------------------------------------------------------------------------
_VOICES = re.compile(
    r"rm(?P<room>\d+)-(?P<distractor>none|babb|musi|tele)-sp\d+-ch\d+-sg\d+-mc(?P<mic>\d+)"
    r"-(?P<mic_type>[a-z]+)-(?P<mic_position>[a-z]+)(?:-dg(?P<degree>\d+))?",
    re.I,
)
_VOICES_DISTRACTORS = {"none": "none", "babb": "babble", "musi": "music", "tele": "tv"}


def derive_voices(rec: Mapping[str, Any]) -> dict:
    m = _VOICES.search(_ident(rec))
    if not m:
        return {}
    g = m.groupdict()
    out = {
        "room": f"rm{g['room']}",
        "distractor": _VOICES_DISTRACTORS[g["distractor"].lower()],
        "mic": f"mc{g['mic']}",
        "mic_type": g["mic_type"].lower(),
        "mic_position": g["mic_position"].lower(),
    }
    if g["degree"] is not None:
        out["degree"] = g["degree"]
    return out


# --- NOIZEUS ------------------------------------------------------------------------------------
_NOIZEUS = re.compile(r"sp\d+_(?P<noise>[a-z]+)_sn(?P<snr>-?\d+)", re.I)
_NOIZEUS_CLEAN = re.compile(r"(?:^|[/\\])sp\d+\.(?:wav|flac)$", re.I)


def derive_noizeus(rec: Mapping[str, Any]) -> dict:
    path = _audio_path(rec)
    m = _NOIZEUS.search(path)
    if m:
        return {"noise": m.group("noise").lower(), "snr": str(int(m.group("snr")))}
    if _NOIZEUS_CLEAN.search(path):
        return {"noise": "clean", "snr": "clean"}
    return {}


# --- LibriSpeech --------------------------------------------------------------------------------
_LIBRI = re.compile(r"(?P<split>train|dev|test)-(?P<condition>clean|other)(?:-\d+)?", re.I)


def derive_librispeech(rec: Mapping[str, Any]) -> dict:
    m = _LIBRI.search(_ident(rec))
    if not m:
        return {}
    return {"subset": m.group(0).lower(), "condition": m.group("condition").lower()}


# --- AISHELL-1 ----------------------------------------------------------------------------------
_AISHELL = re.compile(r"(?:^|[/\\])(?P<split>train|dev|test)[/\\](?P<speaker>S\d{4})[/\\]", re.I)
_AISHELL_ID = re.compile(r"BAC009(?P<speaker>S\d{4})W\d+", re.I)


def derive_aishell1(rec: Mapping[str, Any]) -> dict:
    ident = _ident(rec)
    m = _AISHELL.search(ident)
    if m:
        return {"split": m.group("split").lower(), "speaker": m.group("speaker").upper()}
    m = _AISHELL_ID.search(ident)
    return {"speaker": m.group("speaker").upper()} if m else {}


# --- WenetSpeech --------------------------------------------------------------------------------
_WENET = re.compile(r"(?P<subset>TEST_NET|TEST_MEETING|DEV)", re.I)


def derive_wenetspeech(rec: Mapping[str, Any]) -> dict:
    m = _WENET.search(_ident(rec))
    return {"subset": m.group("subset").upper()} if m else {}


# --- Voices-in-the-Wild-Bench -------------------------------------------------------------------
VITW_CATEGORIES = (
    "noise",
    "far_field",
    "obstructed",
    "echo",
    "recording",
    "distortion",
    "dropout",
    "mixed",
)
# older files' names (and our simulator's) -> the public category names
_CATEGORY_ALIASES = {
    "barrier": "obstructed",
    "crosstalk": "recording",
    "stutter": "dropout",
    "strong_echo": "echo",
    "farfield": "far_field",
    "far": "far_field",
    "compound": "mixed",
    "mix": "mixed",
}
_EFFECT_NAMES = sorted(set(VITW_CATEGORIES) | set(_CATEGORY_ALIASES), key=len, reverse=True)
_ORIGINS = {"real": "real", "sim": "sim", "simu": "sim", "simulated": "sim", "synthetic": "sim"}
_ZH_LANGS = {"zh", "cn", "cmn", "yue", "zh-cn", "zh_cn", "chinese", "mandarin", "cantonese"}


def canonical_category(name: str) -> str:
    """Public category for a category/effect name (``barrier`` -> ``obstructed``); unknown names pass."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return _CATEGORY_ALIASES.get(key, key)


def _effects(combination: Any) -> list[str]:
    if isinstance(combination, (list, tuple)):
        items = [str(x) for x in combination]
    elif isinstance(combination, str):
        items = [x for x in re.split(r"[+,|/;&\s]+", combination) if x]
        if len(items) == 1 and "_" in items[0]:  # scenario-style name: far_field_noise_dropout
            rest, found = items[0].lower(), []
            while rest:
                for eff in _EFFECT_NAMES:
                    if rest == eff or rest.startswith(eff + "_"):
                        found.append(eff)
                        rest = rest[len(eff) + 1 :]
                        break
                else:
                    found = items  # not a concatenation of effect names: keep as one
                    break
            items = found
    else:
        return []
    return [canonical_category(x) for x in items]


def derive_vitw(rec: Mapping[str, Any]) -> dict:
    """origin (real/sim), lang and category from ``subset`` (``sim-en-noise``) and ``combination``."""
    out: dict[str, str] = {}
    subset = rec.get("subset")
    rest = ""
    if isinstance(subset, str) and subset:
        parts = subset.split("-")
        if parts[0].lower() in _ORIGINS:
            out["origin"] = _ORIGINS[parts[0].lower()]
            parts = parts[1:]
        looks_like_lang = len(parts[0]) in (2, 3) and parts[0].isalpha() and len(parts) > 1 if parts else False
        if parts and (looks_like_lang or parts[0].lower() in _ZH_LANGS):
            out["lang"] = parts[0].lower()
            parts = parts[1:]
        rest = "-".join(parts)
    effects = _effects(rec.get("combination"))
    category = canonical_category(rest) if rest else ""
    if category not in VITW_CATEGORIES:
        if len(effects) == 1:
            category = effects[0]
        elif len(effects) > 1:
            category = "mixed"
    if category:
        out["category"] = category
    return out


def _none(rec: Mapping[str, Any]) -> dict:
    return {}


def _canonical_category_value(value: Any) -> Any:
    return canonical_category(value) if isinstance(value, str) and value.strip() else value


def _canonical_origin_value(value: Any) -> Any:
    if isinstance(value, str):
        return _ORIGINS.get(value.strip().lower(), value)
    return value


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "chime4",
            "CHiME-4 (real/simu x bus/caf/ped/str)",
            "whisper_en",
            ("set", "env", "set+env"),
            derive_chime4,
            ("split", "env", "set"),
        ),
        Preset(
            "voices",
            "VOiCES (distractor, room, microphone)",
            "whisper_en",
            ("distractor", "room", "mic"),
            derive_voices,
            ("room", "distractor", "mic", "mic_type", "mic_position", "degree"),
        ),
        Preset(
            "noizeus",
            "NOIZEUS (noise type x SNR)",
            "whisper_en",
            ("noise", "snr", "noise+snr"),
            derive_noizeus,
            ("noise", "snr"),
            severity_key=None,
        ),
        Preset(
            "librispeech",
            "LibriSpeech (clean/other)",
            "whisper_en",
            ("subset",),
            derive_librispeech,
            ("subset", "condition"),
        ),
        Preset("fleurs_en", "FLEURS English", "whisper_en", ("gender",), None, ()),
        Preset("fleurs_zh", "FLEURS Mandarin (character error rate)", "zh", ("gender",), None, ()),
        Preset(
            "aishell1",
            "AISHELL-1 (character error rate)",
            "zh",
            ("split",),
            derive_aishell1,
            ("split", "speaker"),
        ),
        Preset(
            "wenetspeech",
            "WenetSpeech (TEST_NET / TEST_MEETING, character error rate)",
            "zh",
            ("subset",),
            derive_wenetspeech,
            ("subset",),
        ),
        Preset(
            "vitw",
            "Voices-in-the-Wild-Bench (real/sim x degradation category)",
            "auto",
            ("origin", "category", "origin+category"),
            derive_vitw,
            ("origin", "lang", "category"),
            severity_key="global_severity",
            series_key="category",
            aliases=("voices_in_the_wild", "voices-in-the-wild-bench"),
            canonical={"category": _canonical_category_value, "origin": _canonical_origin_value},
        ),
    ]
}


def get_preset(name: str) -> Preset:
    key = name.strip().lower()
    if key in PRESETS:
        return PRESETS[key]
    for p in PRESETS.values():
        if key in p.aliases:
            return p
    from nemo_wild_eval.errors import InputError

    raise InputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")


def is_chinese_lang(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in _ZH_LANGS
