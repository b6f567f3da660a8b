"""Router network size, persistence, threshold, reproducible training, AUC/ROC maths."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from router_fixtures import tone

from nemo_wild_eval.errors import InputError
from verl_dgwgpo.router.evaluate import auc_score, roc_curve
from verl_dgwgpo.router.model import RouterConfig, RouterModel


def test_size_is_the_papers_about_1_2_m():
    m = RouterModel()
    assert 1_100_000 <= m.num_parameters() <= 1_300_000
    assert m.threshold == 0.5


def test_threshold_configurable_and_checked(tmp_path):
    m = RouterModel(RouterConfig(threshold=0.0))
    assert m.route(tone(300, 1.0), 16000).degraded  # every non-silent clip goes to the LoRA
    m.threshold = 1.0
    assert not m.route(tone(300, 1.0), 16000).degraded or m.route(tone(300, 1.0), 16000).prob == 1.0
    with pytest.raises(InputError, match="threshold"):
        RouterConfig(threshold=1.5).validate()
    m.save(tmp_path / "r")
    assert RouterModel.load(tmp_path / "r", threshold=0.25).threshold == 0.25


def test_save_load_gives_identical_scores(tmp_path):
    import torch

    torch.manual_seed(3)
    m = RouterModel()
    clips = [tone(f, 2.5) for f in (200, 900, 3000)]
    m.save(tmp_path / "r")
    m2 = RouterModel.load(tmp_path / "r")
    assert [m.route(c, 16000).prob for c in clips] == [m2.route(c, 16000).prob for c in clips]
    with pytest.raises(InputError, match="not a router directory"):
        RouterModel.load(tmp_path)


def test_training_with_fixed_steps_is_reproducible():
    from verl_dgwgpo.router.train import train_router

    rng = np.random.default_rng(0)
    clean = [tone(200 + 50 * i, 1.2) for i in range(4)]
    noisy = [c + 0.3 * rng.standard_normal(c.size).astype(np.float32) for c in clean]
    runs = [train_router(clean, noisy, steps=3, seed=5, progress=False, batch=4, crop_frames=50) for _ in range(2)]
    (m1, met1), (m2, met2) = runs
    assert met1["steps"] == met2["steps"] == 3
    for (k, a), (_, b) in zip(m1.net.state_dict().items(), m2.net.state_dict().items()):
        assert torch_equal(a, b), k
    m3, _ = train_router(clean, noisy, steps=3, seed=6, progress=False, batch=4, crop_frames=50)
    assert not torch_equal(m1.net.conv1.weight, m3.net.conv1.weight)
    with pytest.raises(InputError, match="batch"):
        train_router(clean, noisy, steps=1, batch=3, progress=False)


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def test_auc_hand_worked_and_against_pairwise_definition():
    # degraded scores 0.9, 0.4; clean 0.5, 0.1: pairs (0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1) -> 3/4
    assert auc_score([1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1]) == 0.75
    assert auc_score([1, 0], [0.3, 0.3]) == 0.5  # a tie counts 1/2
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.random(60), 1)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    pairwise = np.mean([1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg)])
    assert auc_score(y, s) == pytest.approx(pairwise, abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert np.trapezoid(tpr, fpr) == pytest.approx(pairwise, abs=1e-12)  # ties: straight segments
    with pytest.raises(InputError):
        auc_score([1, 1], [0.2, 0.3])
