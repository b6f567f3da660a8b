"""Real FFTs of ``(channels, samples)`` float32 audio: FFTW through pyFFTW, scipy's pocketfft as fallback.

Why a module of its own: the simulator spends most of its time in real FFTs of 60k–130k points, and on
one core FFTW runs them 2–3× as fast as pocketfft. Plans must not depend on timing, or two processes
could pick different plans and round differently: plans are made with ``FFTW_ESTIMATE`` after
importing the measured plans shipped in ``fftw_wisdom.json`` (``scripts/make_fftw_wisdom.py``), so
the sizes it covers get the measured (~30 % faster) plan and the others a rule-based one, the same in
every process. pyFFTW's wisdom is process-wide: a program that itself plans these sizes with
``FFTW_MEASURE`` before using lhotse_wild may change its last bits. Plans and their aligned buffers
are cached per thread and per (size, channels), a few at a time, so memory stays bounded and threads
never share a buffer.

:data:`BACKEND` says which library (and wisdom) is in use; ``degrade`` records it in the params,
because they round differently (replaying across them agrees to float32 rounding, not to the bit).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

WISDOM_PATH = Path(__file__).with_name("fftw_wisdom.json")


def _import_wisdom() -> str:
    """Import the shipped wisdom; returns a short tag of it ("" when there is none)."""
    try:
        data = json.loads(WISDOM_PATH.read_text())
        parts = tuple(data[k].encode("ascii") for k in ("double", "single", "longdouble"))
    except (OSError, ValueError, KeyError, AttributeError):
        return ""
    if not all(pyfftw.import_wisdom(parts)):
        return ""
    return hashlib.sha1(parts[1]).hexdigest()[:8]


try:  # pragma: no branch - which one depends on the platform
    import pyfftw

    _tag = _import_wisdom()
    BACKEND = f"fftw-{_tag}" if _tag else "fftw"
except ImportError:  # pragma: no cover - pyFFTW has wheels for the usual platforms
    pyfftw = None
    BACKEND = "pocketfft"

_MAX_PLANS = 12  # per thread: a handful of clip lengths in flight, each plan ~3 buffers of nfft floats
_local = threading.local()


class _Plan:
    """An FFTW plan with its aligned buffers, and how much of its real buffer holds data."""

    __slots__ = ("fftw", "written")

    def __init__(self, fftw: Any, written: int):
        self.fftw, self.written = fftw, written


def _plan(kind: str, channels: int, nfft: int, slot: int = 0) -> _Plan:
    plans: OrderedDict = getattr(_local, "plans", None)
    if plans is None:
        plans = _local.plans = OrderedDict()
    key = (kind, channels, nfft, slot)
    plan = plans.get(key)
    if plan is not None:
        plans.move_to_end(key)
        return plan
    plan = plans[key] = _Plan(make_plan(kind, channels, nfft), nfft)
    if len(plans) > _MAX_PLANS:
        plans.popitem(last=False)
    return plan


def make_plan(kind: str, channels: int, nfft: int, effort: str = "FFTW_ESTIMATE") -> Any:
    """A new FFTW plan over fresh aligned buffers: ``r2c`` (float32 → complex64) or ``c2r``. The one
    place plans are made, so the wisdom script measures exactly the problems used here."""
    real = pyfftw.empty_aligned((channels, nfft), dtype="float32")
    spec = pyfftw.empty_aligned((channels, nfft // 2 + 1), dtype="complex64")
    if kind == "r2c":
        return pyfftw.FFTW(real, spec, axes=(-1,), direction="FFTW_FORWARD", flags=(effort,), threads=1)
    # c2r overwrites its input, which is our own buffer
    return pyfftw.FFTW(spec, real, axes=(-1,), direction="FFTW_BACKWARD", flags=(effort, "FFTW_DESTROY_INPUT"),
                       threads=1)


def rfft(x: np.ndarray, nfft: int, copy: bool = True, slot: int = 0) -> np.ndarray:
    """Spectrum of each channel of ``x`` zero-padded (or cut) to ``nfft`` samples: complex64
    ``(channels, nfft // 2 + 1)``.

    ``copy=False`` returns the plan's own output buffer (saves a copy of the spectrum): it is
    overwritten by the next rfft of the same shape and ``slot`` in this thread, so use it up first;
    two spectra alive at once take two slots.
    """
    x = np.asarray(x, dtype=np.float32)
    if pyfftw is None:
        import scipy.fft

        return scipy.fft.rfft(x, nfft, axis=-1)
    plan = _plan("r2c", x.shape[0], int(nfft), slot)
    buf = plan.fftw.input_array
    n = min(x.shape[-1], nfft)
    buf[:, :n] = x[:, :n]
    if plan.written > n:  # r2c keeps its input: only what a longer input wrote needs zeroing again
        buf[:, n:plan.written] = 0.0
    plan.written = n
    plan.fftw.execute()
    out = plan.fftw.output_array
    return out.copy() if copy else out


def irfft(spec: np.ndarray, nfft: int, n: int | None = None, scale: float = 1.0) -> np.ndarray:
    """Inverse of :func:`rfft`, first ``n`` samples only (all when None), times ``scale`` (free: the
    1/nfft normalisation makes that pass anyway): float32 ``(channels, n)``, a new array."""
    n = int(nfft) if n is None else int(n)
    if pyfftw is None:
        import scipy.fft

        y = scipy.fft.irfft(spec, nfft, axis=-1)[:, :n].astype(np.float32, copy=False)
        return y * np.float32(scale) if scale != 1.0 else y
    fftw = _plan("c2r", spec.shape[0], int(nfft)).fftw
    fftw.input_array[...] = spec
    fftw.execute()
    return fftw.output_array[:, :n] * np.float32(scale / nfft)
