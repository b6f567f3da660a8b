"""A2S-SFT end to end on tiny models: verl's SFT trainer (CPU platform, FSDP2, one gloo rank).

One chained run per module (phase 1 -> 2 -> 3), each a few steps; the assertions read the adapters
the phases wrote to disk, so they check what the next phase and the exports actually load.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("verl")
pytest.importorskip("peft")

from nemo_wild_eval.errors import InputError  # noqa: E402
from verl_dgwgpo.sft.groups import LAYOUTS  # noqa: E402
from verl_dgwgpo.testing.sft import make_cuts, phase_overrides  # noqa: E402
from verl_dgwgpo.tiny_models import tiny_model_dir  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "sft"
WERS = [0.05, 0.40, 0.65, 0.90]  # curriculum: {c0} -> {c0,c1} -> {c0,c1,c2}; c3 is above 0.70
TEXTS = ["yes", "no"]


def _run(phase: int, overrides: list[str]) -> dict:
    from verl_dgwgpo.sft.trainer import compose_config, run_phase

    return run_phase(compose_config(EXAMPLES / f"phase{phase}.yaml", overrides))


def _adapter(path: str | Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(Path(path) / "adapter_model.safetensors"))


def _by_group(state: dict[str, torch.Tensor], layout: str = "qwen3_asr") -> dict[str, dict[str, torch.Tensor]]:
    out: dict[str, dict[str, torch.Tensor]] = {"audio_tower": {}, "aligner": {}, "llm": {}}
    for key, value in state.items():
        out[LAYOUTS[layout].group(key.split(".lora_")[0])][key] = value
    return out


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("a2s")
    model = tiny_model_dir("qwen3_asr", root / "models", output_scale=10.0)
    cuts = make_cuts(root / "data", WERS, texts=TEXTS)
    order: list[int] = []
    from verl_dgwgpo.sft import data as sft_data

    encode = sft_data.AudioSFTDataset.encode

    def recording(self, index):
        order.append(int(index))
        return encode(self, index)

    sft_data.AudioSFTDataset.encode = recording
    try:
        p1 = _run(1, phase_overrides(model, cuts, root / "p1", **{"optim.lr": 1e-2}))
        phase1_order = list(order)
    finally:
        sft_data.AudioSFTDataset.encode = encode
    # phase 2: LLM only, full split, high LR and a few epochs: the overfit check
    p2 = _run(
        2,
        phase_overrides(
            model, cuts, root / "p2", **{"model.lora_adapter_path": p1["adapter_out"], "optim.lr": 3e-2, "trainer.total_epochs": 6}
        ),
    )
    # phase 3: one plain AdamW step (no decay, no clipping) to read each group's step size
    p3 = _run(
        3,
        phase_overrides(
            model,
            cuts,
            root / "p3",
            **{
                "model.lora_adapter_path": p2["adapter_out"],
                "optim.lr": 1e-3,
                "optim.weight_decay": 0.0,
                "optim.clip_grad": 1e6,
                "trainer.total_training_steps": 1,
            },
        ),
    )
    return {"root": root, "model": model, "cuts": cuts, "p1": p1, "p2": p2, "p3": p3, "order1": phase1_order}


def test_phase1_moves_only_acoustic_lora_on_the_curriculum(chain):
    p1 = chain["p1"]
    assert p1["train_groups"] == ["audio_tower", "aligner"] and p1["lora_rank"] == 8
    groups = _by_group(_adapter(p1["adapter_out"]))
    assert all(groups.values()), "the adapter covers every group so the phases chain"
    # LLM LoRA never trained: B is still PEFT's zero init and the weights did not move
    assert all(torch.count_nonzero(v) == 0 for k, v in groups["llm"].items() if "lora_B" in k)
    assert p1["max_abs_change_per_group"]["llm"] == 0.0
    for g in ("audio_tower", "aligner"):
        assert any(torch.count_nonzero(v) > 0 for k, v in groups[g].items() if "lora_B" in k), g
        assert p1["max_abs_change_per_group"][g] > 1e-3
    # curriculum: batches of 2 -> stage 1 = [c0, c0], stage 2 = {c0, c1}, stage 3 = {c0, c1, c2} + 1 repeat
    cur = p1["curriculum"]
    assert cur["excluded_above_last_threshold"] == 1
    assert cur["stages"] == {
        "wer_le_0.30": {"members": 1, "samples_seen": 2, "steps": 1},
        "wer_le_0.50": {"members": 2, "samples_seen": 2, "steps": 1},
        "wer_le_0.70": {"members": 3, "samples_seen": 4, "steps": 2},
    }
    assert p1["steps"] == 4 and len(p1["loss"]) == 4
    # what verl's dataloader actually fed the model, in order
    order = chain["order1"]
    assert order[:2] == [0, 0] and set(order[2:4]) == {0, 1} and set(order[4:8]) == {0, 1, 2}
    assert 3 not in order
    report = json.loads((Path(p1["adapter_out"]) / "a2s_report.json").read_text())
    assert report["curriculum"]["stages"] == cur["stages"]


def test_phase2_chains_from_phase1_moves_only_llm_and_overfits(chain):
    p1, p2 = chain["p1"], chain["p2"]
    assert p2["adapter_in"] == p1["adapter_out"] and p2["curriculum"] is None
    a1, a2 = _by_group(_adapter(p1["adapter_out"])), _by_group(_adapter(p2["adapter_out"]))
    for g in ("audio_tower", "aligner"):  # loaded from phase 1 and frozen: bit-identical
        assert a1[g].keys() == a2[g].keys()
        assert all(torch.equal(a1[g][k], a2[g][k]) for k in a1[g]), g
    assert any(not torch.equal(a1["llm"][k], a2["llm"][k]) for k in a1["llm"])
    loss = p2["loss"]
    assert p2["steps"] == 12 and p2["train_samples"] == 4  # full split (c3 too), no curriculum
    assert np.mean(loss[-3:]) < 0.6 * np.mean(loss[:3]), loss


def test_phase3_chains_moves_both_and_acoustic_step_is_the_lower_lr(chain):
    p2, p3 = chain["p2"], chain["p3"]
    assert p3["adapter_in"] == p2["adapter_out"] and p3["steps"] == 1
    assert p3["group_lr"] == pytest.approx({"llm": 1e-3, "audio_tower": 1e-4, "aligner": 1e-4})
    a2, a3 = _by_group(_adapter(p2["adapter_out"])), _by_group(_adapter(p3["adapter_out"]))
    for group, lr in (("audio_tower", 1e-4), ("aligner", 1e-4), ("llm", 1e-3)):
        delta = torch.cat([(a3[group][k] - a2[group][k]).abs().flatten() for k in a2[group]])
        # AdamW's first step moves each weight by lr * |g| / (|g| + eps): lr wherever the gradient is non-zero
        assert float(delta.max()) == pytest.approx(lr, rel=1e-3), group
        assert float(delta.max()) <= lr * (1 + 1e-4)
        moved = delta[delta > 0]
        assert moved.numel() > 0.5 * delta.numel()
        # most weights take (nearly) the full step; only those with |g| ~ eps take less
        assert float(moved.quantile(0.75)) > 0.9 * lr, group


def test_exports_load_back_with_identical_transcripts(chain, tmp_path):
    import soundfile as sf

    from verl_dgwgpo.sft.export import export_lora, export_merged, transcribe

    adapter = chain["p2"]["adapter_out"]
    merged = export_merged(chain["model"], adapter, tmp_path / "merged")
    lora = export_lora(adapter, tmp_path / "lora")
    clips = [sf.read(chain["cuts"].parent / f"c{i}.wav", dtype="float32")[0] for i in range(2)]
    via_merged = transcribe(merged, clips, 16000, max_new_tokens=12)
    via_lora = transcribe(chain["model"], clips, 16000, adapter=lora, max_new_tokens=12)
    base = transcribe(chain["model"], clips, 16000, max_new_tokens=12)
    assert via_merged == via_lora
    assert via_lora != base  # the adapter is really applied
    assert (Path(lora) / "adapter_config.json").is_file()
    # the authors' qwen-asr package layout: same tensors, thinker.* keys, same groups
    pkg = export_lora(adapter, tmp_path / "lora_pkg", layout="qwen-asr")
    native, converted = _adapter(lora), _adapter(pkg)
    assert len(native) == len(converted) and all(k.startswith("base_model.model.thinker.") for k in converted)
    by_native = {g: sorted(torch.cat([v.flatten() for v in d.values()]).tolist()) for g, d in _by_group(native).items()}
    by_pkg = {g: sorted(torch.cat([v.flatten() for v in d.values()]).tolist()) for g, d in _by_group(converted, "qwen-asr").items()}
    assert by_native == by_pkg


def test_bad_config_fails_before_training(chain, tmp_path):
    model, cuts = chain["model"], chain["cuts"]
    with pytest.raises(InputError, match="a2s.train_groups: unknown module group 'decoder'"):
        _run(1, phase_overrides(model, cuts, tmp_path / "a", **{"a2s.train_groups": "[decoder]"}))
    with pytest.raises(InputError, match="adapter directory does not exist"):
        _run(2, phase_overrides(model, cuts, tmp_path / "b", **{"model.lora_adapter_path": str(tmp_path / "missing")}))
    with pytest.raises(InputError, match=r"model.lora_adapter_path: required \(phase 2 starts from the previous phase.s adapter\)"):
        _run(2, phase_overrides(model, cuts, tmp_path / "c"))
    no_wer = make_cuts(tmp_path / "nower", [0.1, None, 0.2])
    with pytest.raises(InputError, match=r"1 cut\(s\) have no valid base_wer \(e.g. \['c1'\]\)"):
        _run(1, phase_overrides(model, no_wer, tmp_path / "d"))
    # fewer items than one batch (no curriculum): verl would divide by zero steps per epoch
    with pytest.raises(InputError, match=r"[34] training item\(s\) but data.train_batch_size=8: verl drops"):
        _run(2, phase_overrides(model, cuts, tmp_path / "f", **{"model.lora_adapter_path": chain["p1"]["adapter_out"],
                                                              "data.train_batch_size": 8, "data.micro_batch_size_per_gpu": 8}))
    # the CLI maps the same errors to exit 2
    from verl_dgwgpo.sft.cli import main as cli_main

    bad = phase_overrides(model, cuts, tmp_path / "e", **{"a2s.curriculum.thresholds": "[0.5,0.3]"})
    assert cli_main([str(EXAMPLES / "phase1.yaml"), *bad]) == 2
    # nothing was trained or written by any of them
    assert not any((tmp_path / d).exists() for d in "abcde")


def test_qwen2_audio_phase1_map(tmp_path):
    model = tiny_model_dir("qwen2_audio", tmp_path / "models", output_scale=10.0)
    cuts = make_cuts(tmp_path / "data", [0.1, 0.2], texts=TEXTS)
    p1 = _run(1, phase_overrides(model, cuts, tmp_path / "p1", **{"optim.lr": 1e-2}))
    assert p1["layout"] == "qwen2_audio" and p1["steps"] == 3
    groups = _by_group(_adapter(p1["adapter_out"]), "qwen2_audio")
    assert all(torch.count_nonzero(v) == 0 for k, v in groups["llm"].items() if "lora_B" in k)
    assert any(torch.count_nonzero(v) > 0 for k, v in groups["aligner"].items() if "lora_B" in k)
    assert any(torch.count_nonzero(v) > 0 for k, v in groups["audio_tower"].items() if "lora_B" in k)
