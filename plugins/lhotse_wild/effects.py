"""The 7 effects: parameter ranges (easy, hard), config overrides, resolution and application.

Every severity-driven parameter declares ``(easy, hard)`` and resolves to ``easy + s·(hard − easy)``
plus a small uniform jitter (``jitter`` × |hard − easy|, default 5 %, clipped to the range). Integer
parameters (tap and pass counts) are rounded and never jittered.

Each parameter draws from its own random stream keyed by (seed, effect, parameter), so for a fixed
seed the draws do not depend on the severity, the scenario or the other effects: raising the severity
moves every value monotonically towards ``hard`` and nothing else changes. The resolved values go into
one JSON-serialisable dict per effect ("step"); applying the steps needs nothing else (see core.replay).
"""

from __future__ import annotations

import copy
import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from lhotse_wild import primitives as P
from lhotse_wild.scenarios import EFFECTS
from nemo_wild_eval.errors import InputError


@dataclass(frozen=True)
class ParamSpec:
    easy: float
    hard: float
    integer: bool = False


#: severity-driven parameters: effect -> name -> (easy, hard). *ours* unless DESIGN says *paper*.
SPECS: dict[str, dict[str, ParamSpec]] = {
    "noise": {"snr_db": ParamSpec(20.0, -5.0)},
    # RT60 of the mid band (500 Hz-1 kHz) from a furnished small room to a hall; the walls' RT60 ratios
    # at 125 Hz / 4 kHz and the direct path's air (ISO 9613-1) darken it further: lhotse_wild.acoustics
    "far_field": {
        "rt60_s": ParamSpec(0.2, 1.5),
        "drr_db": ParamSpec(8.0, -4.0),
        "bass_ratio": ParamSpec(1.05, 1.4),
        "treble_ratio": ParamSpec(0.95, 0.7),
        "distance_m": ParamSpec(1.0, 12.0),
        "gain_db": ParamSpec(0.0, -25.0),
    },
    "strong_echo": {
        "taps": ParamSpec(1, 3, integer=True),
        "delay_ms": ParamSpec(60.0, 400.0),
        "gain_db": ParamSpec(-12.0, -1.0),
        "tap_decay_db": ParamSpec(-6.0, -3.0),
    },
    "obstructed": {
        "passes": ParamSpec(1, 4, integer=True),
        "cutoff_hz": ParamSpec(4000.0, 800.0),
    },
    # the hard end is a narrowband telephone channel: 8 kHz sampling, 300-3400 Hz (ITU-T G.712-like),
    # a cheap capsule's resonance, and an AGC that lifts pauses by up to agc_max_gain_db
    "recording": {
        "rate_hz": ParamSpec(16000.0, 8000.0),
        "highpass_hz": ParamSpec(60.0, 300.0),
        "lowpass_hz": ParamSpec(7500.0, 3400.0),
        "eq_gain_db": ParamSpec(0.0, 9.0),
        "agc_max_gain_db": ParamSpec(0.0, 20.0),
    },
    "distortion": {"drive_db": ParamSpec(0.0, 30.0)},
    "dropout": {
        "loss_rate": ParamSpec(0.0, 0.30),
        "burst_frames": ParamSpec(1.0, 4.0),
    },
}

#: options that do not follow the severity (drawn uniformly, or fixed).
OPTIONS: dict[str, dict[str, Any]] = {
    "noise": {
        # relative weights of the noise kinds; kinds whose source is missing are skipped
        "kinds": {"white": 1.0, "pink": 1.0, "brown": 1.0, "babble": 1.0, "user": 4.0},
        "babble_talkers": [3, 6],  # inclusive range, uniform
        "babble_gain_db": 3.0,  # per-talker level spread ±
    },
    "far_field": {"predelay_ms": 2.0},
    "strong_echo": {"tap_spread": 0.03},  # later taps at k·delay·(1 ± spread)
    "obstructed": {"order": 2, "cutoff_spread": 0.05},
    "recording": {"resampler": "fft", "rate_step_hz": 1000, "eq_freq_hz": [1500.0, 4000.0], "eq_q": 2.0, "order": 4,
                  "agc_target_dbfs": -20.0, "agc_attack_ms": 10.0, "agc_release_ms": 500.0,
                  # "gsm" / "mp3" (pedalboard): real codec artefacts, opt-in (~370-500x realtime alone)
                  "codec": "none"},
    "distortion": {"hard_prob": 0.5},
    "dropout": {"repeat_prob": 0.25, "frame_ms": P.FRAME_MS},
}

DEFAULT_JITTER = 0.05


# ------------------------------------------------------------------------------------------ config
class LoadedConfig(dict):
    """A validated, complete config: passing it to load_config again costs nothing. Treat as read-only."""


_DEFAULT_CONFIG: LoadedConfig | None = None


def load_config(config: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    """Defaults merged with a dict or a YAML/JSON file; unknown keys raise InputError naming them.

    Shape: ``{"jitter": 0.05, "<effect>": {"<param>": [easy, hard], "<option>": value}}``.
    """
    if isinstance(config, LoadedConfig):
        return config
    if config is None:
        global _DEFAULT_CONFIG
        if _DEFAULT_CONFIG is None:
            _DEFAULT_CONFIG = load_config({})
        return _DEFAULT_CONFIG
    source = "config"
    if isinstance(config, (str, Path)):
        source = str(config)
        try:
            text = Path(config).read_text()
        except OSError as exc:
            raise InputError(f"cannot read config: {exc}", source=source) from None
        import yaml

        try:
            config = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"not valid YAML: {exc}", source=source) from None
    cfg = LoadedConfig(jitter=DEFAULT_JITTER)
    for eff in EFFECTS:
        cfg[eff] = {name: [spec.easy, spec.hard] for name, spec in SPECS[eff].items()}
        cfg[eff].update(copy.deepcopy(OPTIONS[eff]))
    if not isinstance(config, Mapping):
        raise InputError(f"config must be a mapping, got {type(config).__name__}", source=source)
    for key, value in config.items():
        if key == "jitter":
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 0.5:
                raise InputError(f"'jitter' must be a number in [0, 0.5], got {value!r}", source=source)
            cfg["jitter"] = float(value)
            continue
        if key not in EFFECTS:
            raise InputError(f"unknown config key {key!r}; expected 'jitter' or one of {EFFECTS}", source=source)
        if not isinstance(value, Mapping):
            raise InputError(f"config[{key!r}] must be a mapping", source=source)
        for name, v in value.items():
            where = f"config[{key!r}][{name!r}]"
            if name in SPECS[key]:
                if (not isinstance(v, (list, tuple)) or len(v) != 2
                        or not all(isinstance(a, (int, float)) and np.isfinite(a) for a in v)):
                    raise InputError(f"{where} must be [easy, hard] numbers, got {v!r}", source=source)
                cfg[key][name] = [float(v[0]), float(v[1])]
            elif name in OPTIONS[key]:
                default = OPTIONS[key][name]
                if isinstance(default, dict):
                    if not isinstance(v, Mapping) or set(v) - set(default):
                        raise InputError(f"{where} must map a subset of {sorted(default)} to weights", source=source)
                    if any(not isinstance(w, (int, float)) or w < 0 for w in v.values()):
                        raise InputError(f"{where} weights must be >= 0", source=source)
                    cfg[key][name] = {k: float(w) for k, w in v.items()}
                elif isinstance(default, list):
                    if not isinstance(v, (list, tuple)) or len(v) != len(default):
                        raise InputError(f"{where} must be a list of {len(default)} numbers", source=source)
                    cfg[key][name] = list(v)
                elif isinstance(default, str):
                    allowed = {"resampler": P.RESAMPLERS, "codec": P.CODECS}.get(name, (default,))
                    if v not in allowed:
                        raise InputError(f"{where} must be one of {allowed}, got {v!r}", source=source)
                    cfg[key][name] = v
                else:
                    if not isinstance(v, (int, float)) or isinstance(v, bool):
                        raise InputError(f"{where} must be a number, got {v!r}", source=source)
                    cfg[key][name] = v
            else:
                raise InputError(f"unknown parameter {name!r} for effect {key!r}; known: "
                                 f"{sorted(SPECS[key]) + sorted(OPTIONS[key])}", source=source)
    return cfg


# ------------------------------------------------------------------------------------------ drawing
#: random slots of each effect, in a fixed order (append only: changing it changes every draw).
SLOTS: dict[str, tuple[str, ...]] = {
    "noise": ("snr_db", "kind", "noise_seed", "pick_seed"),
    "far_field": ("rt60_s", "drr_db", "bass_ratio", "gain_db", "rir_seed", "treble_ratio", "distance_m"),
    "strong_echo": ("taps", "delay_ms", "gain_db", "tap_decay_db", *(f"tap_spread{k}" for k in range(8))),
    "obstructed": ("passes", "cutoff_hz", *(f"cutoff_spread{k}" for k in range(16))),
    "recording": ("rate_hz", "highpass_hz", "lowpass_hz", "eq_gain_db", "eq_freq_hz", "agc_max_gain_db"),
    "distortion": ("drive_db", "mode"),
    "dropout": ("loss_rate", "burst_frames", "chain_seed"),
}


_SLOT_INDEX = {effect: {name: i for i, name in enumerate(names)} for effect, names in SLOTS.items()}


def effect_uniforms(seed: int, effect: str) -> np.ndarray:
    """One uniform draw per slot of ``effect``: the same numbers whatever the severity or scenario.

    53-bit uniforms cut from SHAKE-256 of (seed, effect): a counter-based stream, 4× cheaper than
    seeding a numpy Generator per effect, and the same on every platform and numpy version.
    """
    return np.array(_uniforms(int(seed), effect))


def _uniforms(seed: int, effect: str) -> list[float]:
    k = len(SLOTS[effect])
    raw = hashlib.shake_256(f"lhotse_wild:{seed}:{effect}".encode()).digest(8 * k)
    return [(v >> 11) * (1.0 / 2.0**53) for v in struct.unpack(f"<{k}Q", raw)]  # exact: 53-bit integers


def _r(v: float) -> float:
    return float(round(float(v), 6))


class _Resolver:
    def __init__(self, effect: str, severity: float, seed: int, cfg: dict[str, Any]):
        self.effect, self.s, self.seed = effect, severity, seed
        self.ecfg, self.jitter = cfg[effect], cfg["jitter"]
        self.u = _uniforms(int(seed), effect)
        self.slot = _SLOT_INDEX[effect]

    def uniform(self, name: str, lo: float = 0.0, hi: float = 1.0) -> float:
        return lo + (hi - lo) * self.u[self.slot[name]]

    def value(self, name: str) -> float:
        easy, hard = self.ecfg[name]
        if SPECS[self.effect][name].integer:
            return int(round(easy + self.s * (hard - easy)))
        u = self.uniform(name, -1.0, 1.0)
        v = easy + self.s * (hard - easy) + u * self.jitter * abs(hard - easy)
        return _r(min(max(v, min(easy, hard)), max(easy, hard)))

    def subseed(self, name: str) -> int:
        return int(self.uniform(name) * (2**31 - 1))

    def rng(self, name: str) -> np.random.Generator:
        """A generator for variable-length draws (noise-bank picks), seeded from a slot."""
        return np.random.default_rng(self.subseed(name))


def resolve_effect(
    effect: str,
    severity: float,
    seed: int,
    sampling_rate: int,
    num_samples: int,
    cfg: dict[str, Any],
    noise_bank: Any = None,
    exclude_cut_id: str | None = None,
) -> dict[str, Any]:
    """All values one effect needs for one clip (a "step"), JSON-serialisable."""
    R = _Resolver(effect, severity, seed, cfg)
    ecfg = cfg[effect]
    sr = int(sampling_rate)
    top = 0.45 * sr  # keep every cutoff safely below Nyquist
    step: dict[str, Any] = {"effect": effect}
    if effect == "noise":
        step["snr_db"] = R.value("snr_db")
        step["source"] = _resolve_noise(R, sr, num_samples, noise_bank, exclude_cut_id)
    elif effect == "far_field":
        step.update(
            rt60_s=R.value("rt60_s"), drr_db=R.value("drr_db"), rir_seed=R.subseed("rir_seed"),
            predelay_ms=float(ecfg["predelay_ms"]), bass_ratio=R.value("bass_ratio"),
            treble_ratio=R.value("treble_ratio"), distance_m=R.value("distance_m"), gain_db=R.value("gain_db"),
        )
    elif effect == "strong_echo":
        taps = max(1, R.value("taps"))
        base, g0, decay = R.value("delay_ms"), R.value("gain_db"), R.value("tap_decay_db")
        spread = [R.uniform(f"tap_spread{k}", -1.0, 1.0) * float(ecfg["tap_spread"]) for k in range(8)]
        step["delays_ms"] = [_r(base * (k + 1) * (1.0 + (spread[k] if k else 0.0))) for k in range(taps)]
        step["gains_db"] = [_r(g0 + k * decay) for k in range(taps)]
    elif effect == "obstructed":
        passes = max(1, R.value("passes"))
        fc = R.value("cutoff_hz")
        spread = [R.uniform(f"cutoff_spread{k}", -1.0, 1.0) * float(ecfg["cutoff_spread"]) for k in range(16)]
        step["cutoffs_hz"] = [_r(min(fc * (1.0 + spread[k]), top)) for k in range(passes)]
        step["order"] = int(ecfg["order"])
    elif effect == "recording":
        q = int(ecfg["rate_step_hz"])
        rate = int(round(R.value("rate_hz") / q) * q)
        rate = min(max(rate, 2000), sr)
        band_top = 0.45 * min(sr, rate) if rate < sr else 0.45 * sr  # 3400 Hz fits under 8 kHz's 3600
        lp = min(R.value("lowpass_hz"), band_top)
        hp = min(R.value("highpass_hz"), 0.5 * lp)
        lo_f, hi_f = ecfg["eq_freq_hz"]
        eq_f = R.uniform("eq_freq_hz", float(lo_f), float(hi_f))
        step.update(
            rate_hz=rate, resampler=str(ecfg["resampler"]), highpass_hz=_r(hp), lowpass_hz=_r(lp), order=int(ecfg["order"]),
            eq_freq_hz=_r(min(eq_f, 0.8 * lp)), eq_gain_db=R.value("eq_gain_db"), eq_q=float(ecfg["eq_q"]),
            agc_max_gain_db=R.value("agc_max_gain_db"), agc_target_dbfs=float(ecfg["agc_target_dbfs"]),
            agc_attack_ms=float(ecfg["agc_attack_ms"]), agc_release_ms=float(ecfg["agc_release_ms"]),
            codec=str(ecfg["codec"]), codec_quality=_r(9.0 * severity),
        )
    elif effect == "distortion":
        step["drive_db"] = R.value("drive_db")
        step["mode"] = "hard" if R.uniform("mode") < float(ecfg["hard_prob"]) else "soft"
    elif effect == "dropout":
        frame_ms = float(ecfg["frame_ms"])
        loss, burst = R.value("loss_rate"), R.value("burst_frames")
        repeat_prob = float(ecfg["repeat_prob"])
        chain_seed = R.subseed("chain_seed")
        dropped, repeated = P.loss_runs(P.num_frames(num_samples, sr, frame_ms), loss, burst,
                                        repeat_prob, chain_seed)
        step.update(frame_ms=frame_ms, loss_rate=loss, burst_frames=burst, repeat_prob=repeat_prob,
                    chain_seed=chain_seed, dropped=dropped, repeated=repeated)
    else:  # pragma: no cover - guarded by scenario_effects
        raise InputError(f"unknown effect {effect!r}", source="effect")
    return step


def _resolve_noise(R: _Resolver, sr: int, num_samples: int, bank: Any, exclude_cut_id: str | None) -> dict:
    weights = dict(R.ecfg["kinds"])
    avail = {"white", "pink", "brown"}
    if bank is not None:
        avail |= bank.kinds_available(exclude_cut_id)
    kinds = [k for k in ("white", "pink", "brown", "babble", "user") if k in avail and weights.get(k, 0.0) > 0]
    if not kinds:
        raise InputError(f"no noise kind available with weights {weights} (sources: {sorted(avail)})",
                         source="config['noise']['kinds']")
    w = np.cumsum([weights[k] for k in kinds], dtype=np.float64)
    kind = kinds[min(int(np.searchsorted(w / w[-1], R.uniform("kind"), side="right")), len(kinds) - 1)]
    clip_s = num_samples / sr
    if kind in P.COLORED_NOISES:
        return {"kind": kind, "seed": R.subseed("noise_seed")}
    if kind == "user":
        return {"kind": "user", **bank.pick_user(R.rng("pick_seed"), clip_s)}
    lo, hi = (int(v) for v in R.ecfg["babble_talkers"])
    return {"kind": "babble", "talkers": bank.pick_babble(R.rng("pick_seed"), lo, hi, clip_s,
                                                          float(R.ecfg["babble_gain_db"]), exclude_cut_id)}


# ------------------------------------------------------------------------------------------ apply
# What a step's recorded values mean, in one place for both renderings (step by step here, fused runs
# in lhotse_wild.spectral).
def step_rir(step: Mapping[str, Any], sr: int) -> np.ndarray:
    """The far_field step's RIR (cached): RT60 and reverberant level per frequency (P.band_rir)."""
    return P.band_rir(sr, float(step["rt60_s"]), float(step["drr_db"]), int(step["rir_seed"]),
                      float(step["bass_ratio"]), float(step["treble_ratio"]), float(step["predelay_ms"]) / 1000.0)


def step_cutoffs(step: Mapping[str, Any]) -> list[float]:
    """The obstructed step's low-pass cutoffs."""
    return [float(fc) for fc in step["cutoffs_hz"]]


def step_device(step: Mapping[str, Any]) -> tuple:
    """The recording step's (rate, (high-pass, low-pass), order, EQ frequency, EQ gain, EQ Q)."""
    return (int(step["rate_hz"]), (float(step["highpass_hz"]), float(step["lowpass_hz"])), int(step["order"]),
            float(step["eq_freq_hz"]), float(step["eq_gain_db"]), float(step["eq_q"]))


def device_after(y: np.ndarray, sr: int, step: Mapping[str, Any]) -> np.ndarray:
    """The recording step's time-domain stages after its filters: AGC, then the codec (a phone's order)."""
    y = P.agc(y, sr, float(step["agc_target_dbfs"]), float(step["agc_max_gain_db"]),
              float(step["agc_attack_ms"]), float(step["agc_release_ms"]))
    if step["codec"] != "none":
        y = P.codec(y, sr, str(step["codec"]), mp3_vbr_quality=float(step["codec_quality"]))
    return y


def apply_step(x: np.ndarray, sampling_rate: int, step: Mapping[str, Any], noise_bank: Any = None) -> np.ndarray:
    """Apply one resolved effect to ``(channels, samples)`` float32 audio."""
    sr = int(sampling_rate)
    effect = step.get("effect")
    try:
        if effect == "noise":
            noise = render_noise(step["source"], x.shape, sr, noise_bank)
            return P.add_noise(x, noise, float(step["snr_db"]))
        if effect == "far_field":
            # reverb with the direct path's air absorption as ONE FFT product, rescaled to the input RMS,
            # so the level drop is exactly gain_db
            return P.reverberate_room(x, sr, step_rir(step, sr), float(step["distance_m"]),
                                      gain_db=float(step["gain_db"]))
        if effect == "strong_echo":
            return P.echo(x, sr, [d / 1000.0 for d in step["delays_ms"]], step["gains_db"])
        if effect == "obstructed":
            # the repeated zero-phase low-passes as one product of responses, one FFT pass
            return P.lowpass_cascade(x, sr, step_cutoffs(step), int(step["order"]))
        if effect == "recording":
            rate, band, order, eq_freq, eq_gain, eq_q = step_device(step)
            if step["resampler"] == "fft":  # the three linear zero-phase stages as one FFT pass
                y = P.device_chain(x, sr, rate, band, order, eq_freq, eq_gain, eq_q)
            else:
                y = P.resample_roundtrip(x, sr, rate, method=str(step["resampler"]))
                # band-pass and EQ stacked into one zero-phase pass over the signal
                sos = np.concatenate([P.butter_sos(sr, "bandpass", band, order),
                                      P.peaking_sos(sr, eq_freq, eq_gain, eq_q)])
                y = P.sos_filter(y, sos)
            return device_after(y, sr, step)
        if effect == "distortion":
            return P.distort(x, float(step["drive_db"]), str(step["mode"]))
        if effect == "dropout":
            return P.frame_dropout_runs(x, sr, step["dropped"], step["repeated"], float(step["frame_ms"]))
    except KeyError as exc:
        raise InputError(f"params step {effect!r} lacks {exc}", source="params") from None
    raise InputError(f"unknown effect {effect!r} in params", source="params")


def render_noise(source: Mapping[str, Any], shape: tuple[int, int], sr: int, bank: Any) -> np.ndarray:
    kind = source.get("kind")
    if kind in P.COLORED_NOISES:
        return P.colored_noise(kind, shape, int(source["seed"]))
    from lhotse_wild.noise import load_segment  # lhotse only when audio files are involved

    n = shape[-1]
    if kind == "user":
        return load_segment(source, sr, n, bank)[None, :]
    if kind == "babble":
        mix = np.zeros(n, dtype=np.float64)
        for talker in source["talkers"]:
            seg = load_segment(talker, sr, n, bank).astype(np.float64)
            seg /= np.sqrt(np.mean(seg**2))  # equal talkers before the recorded level spread
            mix += seg * 10.0 ** (float(talker["gain_db"]) / 20.0)
        return mix.astype(np.float32)[None, :]
    raise InputError(f"unknown noise kind {kind!r} in params", source="params")


def dumps(params: Mapping[str, Any]) -> str:
    """Canonical JSON of params (what manifests store)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))
