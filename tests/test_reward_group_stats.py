"""Group dispersion by hand, and the ``wildasr reward`` CLI on real groups (no verl needed)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from verl_dgwgpo.group_stats import group_dispersion, regime_of


def test_group_dispersion_by_hand():
    rewards = [[0.0, 0.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.2, 0.4, 0.6], [0.9]]
    wers = [[1.0, 1.2, 0.9], [0.0, 0.4], [0.5, 0.5], [0.2, 0.3, 0.1], [0.0]]
    s = group_dispersion(rewards, wers)
    # 4 groups with >= 2 rollouts (the singleton is skipped); groups 0 and 2 are constant
    assert s["all"]["n_groups"] == 4 and s["all"]["zero_variance_share"] == 0.5
    # sample stds (ddof=1): 0, sqrt(0.5)=0.707107, 0, 0.2 -> mean 0.226777
    assert s["all"]["mean_std"] == pytest.approx((math.sqrt(0.5) + 0.2) / 4)
    # regimes by mean WER: g0 1.033 (>0.7), g1 0.2 and g3 0.2 (<=0.3), g2 0.5 (middle)
    assert s["wer>0.7"] == {"n_groups": 1, "zero_variance_share": 1.0, "mean_std": 0.0}
    assert s["wer<=0.3"]["n_groups"] == 2 and s["wer<=0.3"]["zero_variance_share"] == 0.0
    assert s["wer<=0.3"]["mean_std"] == pytest.approx((math.sqrt(0.5) + 0.2) / 2)
    assert s["0.3<wer<=0.7"]["zero_variance_share"] == 1.0
    # without WERs: only the overall view; empty input: NaN statistics, 0 groups
    assert set(group_dispersion(rewards)) == {"all"}
    empty = group_dispersion([])["all"]
    assert empty["n_groups"] == 0 and math.isnan(empty["mean_std"])
    assert [regime_of(x) for x in (0.3, 0.30001, 0.7, 0.71, float("nan"))] == [
        "wer<=0.3",
        "0.3<wer<=0.7",
        "0.3<wer<=0.7",
        "wer>0.7",
        "wer>0.7",
    ]
    with pytest.raises(ValueError, match="group 0"):
        group_dispersion([[1.0, 2.0]], [[0.1]])


GROUPS = [
    # badly failed group: every hypothesis has WER >= 1, so 1 - WER gives all zeros
    {"reference": "please call stella", "hypotheses": ["", "bees fall", "lease hall stellar ok", "a b c d e f"]},
    # good group
    {"reference": "the cat sat on the mat", "hypotheses": ["the cat sat on the mat", "the cat sat on the hat"]},
]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "wildasr.cli", "reward", *args], capture_output=True, text=True)


def test_cli_groups_show_where_one_minus_wer_saturates(tmp_path):
    path = tmp_path / "groups.jsonl"
    path.write_text("\n".join(json.dumps(g) for g in GROUPS) + "\n")
    out = _cli(str(path), "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    res = json.loads((tmp_path / "r.json").read_text())
    disp = res["dispersion"]
    assert disp["wer"]["wer>0.7"]["zero_variance_share"] == 1.0  # 1 - WER: no signal in the failed group
    assert disp["dgwgpo"]["wer>0.7"]["zero_variance_share"] == 0.0  # DG-WGPO still ranks it
    assert disp["dgwgpo"]["wer>0.7"]["mean_std"] > 0.05
    assert res["groups"][1]["wer"] == [0.0, pytest.approx(1 / 6)]
    assert res["groups"][0]["scores"]["wer"] == [0.0] * 4
    assert "zero-var share" in out.stdout and "dgwgpo" in out.stdout


def test_cli_single_pair_and_bad_input(tmp_path):
    out = _cli("--ref", "I recognise the voice", "--hyp", "I recognize the boys", "--normalizer", "basic")
    assert out.returncode == 0, out.stderr
    lines = {ln.split()[0]: ln.split()[1:] for ln in out.stdout.splitlines()[3:] if ln.strip()}
    assert lines["n_soft"] == ["1"] and lines["n_hard"] == ["1"]
    # r_fine = C / (C + N_hard + 0.4 N_soft) = 2 / (2 + 1 + 0.4) = 0.5882
    assert lines["r_fine"] == ["0.5882"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"reference": "a", "hypotheses": ["a"]}\nnot json\n')
    out = _cli(str(bad))
    assert out.returncode == 2 and "bad.jsonl:2" in out.stderr
    out = _cli("--ref", "a", "--hyp", "b", "--param", "rho=1")
    assert out.returncode == 2 and "rho" in out.stderr
    out = _cli("--ref", "a")
    assert out.returncode == 2 and "--hyp" in out.stderr
