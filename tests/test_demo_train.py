"""`wildasr demo --small --training smoke` end to end: the training half of the recipe, from the CLI.

One real run (Piper speech, a Qwen3-ASR trained from scratch, `wildasr sft` phases 1-3 on the packaged
YAMLs, `wildasr rl` in verl's trainer with both rewards, the router, held-out scoring), then a rerun
that resumes everything. Checked: every stage produced its artefacts, training moved the LoRA weights
in every phase and in both RL runs, the held-out numbers in the demo report are the ones the scorer
wrote, and the report's links and plots resolve.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_wild_eval.errors import InputError

pytestmark = pytest.mark.slow

WILDASR = [sys.executable, "-m", "wildasr.cli"]
STAGES = ("base", "a2s_sft", "dapo_wer", "dapo_dgwgpo", "routed")


def _demo(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*WILDASR, "demo", "--small", "--training", "smoke", "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, timeout=1200, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_train") / "out"
    first = _demo(out)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = _demo(out)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return out, first, second


def _lora_b_norm(adapter: Path) -> float:
    from safetensors.torch import load_file

    state = load_file(str(adapter / "adapter_model.safetensors"))
    b = [v.float().norm().item() for k, v in state.items() if "lora_B" in k]
    assert b, f"no lora_B tensors in {adapter}"
    return math.sqrt(sum(x * x for x in b))


def test_every_stage_trained_and_was_scored(run):
    out, first, _ = run
    m = json.loads((out / "metrics.json").read_text())
    train = m["stages"]["train"]
    assert train["status"] == "ok", m["missing"].get("train")
    rows = {r["name"]: r for r in train["rows"]}
    assert set(rows) == set(STAGES)
    for name in STAGES:
        for key in ("wer_clean", "wer_wild"):
            assert 0.0 <= rows[name][key] < 5.0, (name, key, rows[name][key])
    # LoRA B starts at zero: a non-zero B means the phase / the RL update really changed the adapter
    t = out / "train"
    for phase in ("1", "2", "3"):
        assert _lora_b_norm(t / "sft" / f"phase{phase}" / "adapter") > 0.0, phase
    for reward in ("wer", "dgwgpo"):
        run_dir = t / "rl" / f"{reward}_seed0"
        assert _lora_b_norm(run_dir / "final" / "adapter") > 0.0, reward
        steps = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in steps] == [1]
        assert math.isfinite(steps[0]["actor/pg_loss"])
        assert 0.0 <= steps[0]["dgwgpo/zero_variance_share"] <= 1.0
    # manifests hold absolute audio paths: the recipe's corpora load from any working directory
    from lhotse import CutSet

    for manifest in ("corpus/heldout/cuts.jsonl.gz", "wild/heldout.jsonl.gz", "split/rl.jsonl.gz"):
        cut = next(iter(CutSet.from_file(t / manifest)))
        assert Path(cut.recording.sources[0].source).is_absolute(), manifest
    # the demo's numbers are the scorer's: recompute base and DG-WGPO rows from the eval manifests
    from nemo_wild_eval.scorer import score_manifest

    for name, manifest in (("base", "base.jsonl"), ("dapo_dgwgpo", "dapo_dgwgpo_seed0.jsonl")):
        recs = [json.loads(x) for x in (t / "eval" / manifest).read_text().splitlines()]
        wild = [r for r in recs if r["condition"] == "wild"]
        assert len(wild) == train["corpus"]["heldout"]  # one wild copy per held-out sentence (smoke plan)
        path = out / f"{name}_wild.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in wild))
        assert score_manifest(path).wer == pytest.approx(rows[name]["wer_wild"], abs=1e-9)


def test_report_shows_the_training_table_and_plots(run):
    out, first, _ = run
    md = (out / "report.md").read_text()
    assert "## 7. Training: the recipe in miniature" in md
    section = md.split("## 7. Training")[1].split("## Files")[0]
    for label in ("base (trained from scratch", "A2S-SFT (phase 3)", "DAPO, reward 1 − WER", "DAPO, reward DG-WGPO"):
        assert label in section
    for rel in re.findall(r"\]\(([^)]+)\)", section):
        assert (out / rel).is_file(), rel
    assert "train/wer_by_stage.png" in section and "train/rl_curves.png" in section
    assert "training (miniature, wild WER): base" in first.stdout


def test_rerun_resumes_without_training_again(run):
    out, first, second = run
    assert "[train] done already (resume): skipped" in second.stdout
    assert "wildasr.cli rl" not in second.stdout and "[train] [sft]" not in second.stdout
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["training"] == "smoke"


def test_bad_training_choice_is_refused():
    from wildasr.demo import DemoConfig

    with pytest.raises(InputError, match="--training must be one of none, smoke, quick, full"):
        DemoConfig(training="tiny").resolve()
    assert DemoConfig(small=True).resolve().training == "none"
    assert DemoConfig().resolve().training == "quick"
