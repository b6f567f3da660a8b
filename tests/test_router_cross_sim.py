"""Cross-simulator check: other tools' degradations (audiomentations / pedalboard) and the router on them."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from router_fixtures import *  # noqa: F401,F403

pytest.importorskip("audiomentations")
pytest.importorskip("pedalboard")

from verl_dgwgpo.router.cross_sim import OTHER_EFFECTS, cross_simulator_eval, render_other  # noqa: E402
from verl_dgwgpo.router.features import wave_features  # noqa: E402

SR = 16000


def _speechlike(seconds=2.0):
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    env = (np.sin(2 * np.pi * 3 * t) > 0).astype(np.float64)  # syllable-like bursts
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 300, 450, 900, 1800, 3600, 5000), 1))
    return (0.2 * env * x + 0.001 * rng.standard_normal(t.size)).astype(np.float32)


def band(y, lo, hi):
    f, p = scipy.signal.welch(y.astype(np.float64), SR, nperseg=1024)
    return p[(f >= lo) & (f < hi)].sum() / p.sum()


@pytest.mark.parametrize("effect", list(OTHER_EFFECTS))
def test_other_tools_degrade_reproducibly(effect):
    x = _speechlike()
    y, params = render_other(x, effect, seed=3)
    y2, _ = render_other(x, effect, seed=3)
    assert y.shape == x.shape and np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 0.999
    assert np.array_equal(y, y2) and params["tool"] in ("audiomentations", "pedalboard")
    assert np.corrcoef(x, y)[0, 1] < 0.995  # audibly changed
    if effect in ("lowpass", "gsm"):
        assert band(y, 4000, 8000) < 0.1 * band(x, 4000, 8000)
    if effect == "gating":  # stretches inside the speech are silenced
        assert np.mean(np.abs(y[np.abs(x) > 0.05]) < 1e-6) > 0.01


def test_wave_features_see_clipping_and_gates():
    x = _speechlike()
    clipped = np.clip(x, -0.05, 0.05)
    gated = x.copy()
    gated[8000:9600] = 0.0  # 100 ms cut inside a burst
    fx, fc, fg = wave_features(x), wave_features(clipped), wave_features(gated)
    live = fx[:, 0] > 0
    assert np.median(fc[live, 0]) < np.median(fx[live, 0]) - 0.3  # crest factor falls
    assert fc[:, 1].mean() > 20 * max(fx[:, 1].mean(), 1e-4)  # samples pile up at the peak
    assert fg[:, 2].max() > 10.0 > fx[:, 2][live].max()  # the gate is an abrupt jump; speech fades


def test_router_routes_other_simulators_and_keeps_clean(trained_router, router_splits, tmp_path):
    """The session router (lhotse_wild training data only, 60 steps) on the held-out clean clips and their
    audiomentations / pedalboard copies. The goal (>= 95 %) is measured with the default training in the
    README; this short fixture run must still route most of them and keep the clean clips clean."""
    model, _, _ = trained_router
    r = cross_simulator_eval(model, router_splits.test_clean, seed=0, out_dir=tmp_path / "xs")
    assert set(r["per_effect"]) == set(OTHER_EFFECTS)
    assert r["n_degraded"] == len(OTHER_EFFECTS) * r["n_clean"]
    assert r["degraded_accuracy"] >= 0.85, r["per_effect"]
    assert r["clean_accuracy"] >= 0.85
    assert (tmp_path / "xs" / "router_eval.md").is_file()
