"""qwen-asr LoRA layout (``base_model.model.thinker.*``) <-> native transformers Qwen3-ASR layout."""

from __future__ import annotations

import json

import pytest
import torch

from nemo_wild_eval.errors import InputError
from verl_dgwgpo.rollout import adapters
from verl_dgwgpo.tiny_models import tiny_model_dir

QWEN_ASR_KEYS = {
    "base_model.model.thinker.model.layers.0.self_attn.q_proj.lora_A.weight":
        "base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight",
    "base_model.model.thinker.audio_tower.proj1.lora_B.weight":
        "base_model.model.model.multi_modal_projector.linear_1.lora_B.weight",
    "base_model.model.thinker.audio_tower.proj2.lora_A.weight":
        "base_model.model.model.multi_modal_projector.linear_2.lora_A.weight",
    "base_model.model.thinker.audio_tower.layers.3.fc1.lora_A.weight":
        "base_model.model.model.audio_tower.layers.3.fc1.lora_A.weight",
    "base_model.model.thinker.audio_tower.conv_out.lora_B.weight":
        "base_model.model.model.audio_tower.conv_out.lora_B.weight",
    "base_model.model.thinker.lm_head.weight": "base_model.model.lm_head.weight",
    "thinker.model.norm.weight": "model.language_model.norm.weight",
}


@pytest.mark.parametrize(("qwen", "native"), sorted(QWEN_ASR_KEYS.items()))
def test_keys_convert_and_round_trip(qwen, native):
    assert adapters.convert_key(qwen, "native") == native
    assert adapters.convert_key(native, "qwen-asr") == qwen
    assert adapters.convert_key(native, "native") == native  # already native: unchanged


def test_foreign_and_mixed_keys_are_refused():
    with pytest.raises(InputError, match="vision_tower.x"):
        adapters.convert_key("base_model.model.vision_tower.x.weight")
    with pytest.raises(InputError, match="mixes layouts"):
        adapters.detect_layout(list(QWEN_ASR_KEYS.items())[0])
    # proj1/proj2 must not be caught by the audio-tower prefix (most specific first).
    assert adapters.convert_key("thinker.audio_tower.proj10.weight") == "model.audio_tower.proj10.weight"


def test_target_modules_and_regexes_convert():
    assert adapters.convert_target(["q_proj", "v_proj", "proj1"]) == ["q_proj", "v_proj", "linear_1"]
    assert adapters.convert_target(["linear_2", "fc1"], "qwen-asr") == ["proj2", "fc1"]
    assert adapters.convert_target(["thinker.audio_tower.proj1"]) == ["model.multi_modal_projector.linear_1"]
    regex = r".*thinker\.model\.layers\.\d+\.self_attn\.(q_proj|v_proj)|thinker.audio_tower.proj2|.*\.proj1"
    assert adapters.convert_target(regex) == (
        r".*model\.language_model\.layers\.\d+\.self_attn\.(q_proj|v_proj)|model.multi_modal_projector.linear_2"
        r"|.*\.linear_1"
    )
    assert adapters.convert_target(adapters.convert_target(regex), "qwen-asr") == regex
    assert adapters.convert_target({"thinker.model.layers.0.mlp.up_proj": 16}) == {
        "model.language_model.layers.0.mlp.up_proj": 16
    }


class _QwenAsrLayout(torch.nn.Module):
    """The qwen-asr module tree (``thinker.audio_tower.proj1`` ...) over a native model's modules."""

    def __init__(self, native):
        super().__init__()
        self.thinker = torch.nn.Module()
        self.thinker.model = native.model.language_model
        self.thinker.audio_tower = native.model.audio_tower
        self.thinker.audio_tower.proj1 = native.model.multi_modal_projector.linear_1
        self.thinker.audio_tower.proj2 = native.model.multi_modal_projector.linear_2
        self.thinker.lm_head = native.lm_head


TARGETS = ["q_proj", "v_proj", "proj1", "proj2", "fc1"]


def test_qwen_asr_adapter_loads_into_native_model_with_peft(tmp_path_factory, tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model
    from safetensors.torch import load_file
    from transformers import Qwen3ASRForConditionalGeneration

    path = tiny_model_dir("qwen3_asr", tmp_path_factory.getbasetemp() / "rollout_tiny")

    # An adapter trained on the qwen-asr layout, as the authors released theirs (peft saves it).
    donor = Qwen3ASRForConditionalGeneration.from_pretrained(path)
    lora = get_peft_model(_QwenAsrLayout(donor), LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_" in name:
                p.normal_(0, 0.5)  # lora_B starts at zero: make the adapter change the model
    src = tmp_path / "qwen_asr_lora"
    lora.save_pretrained(src)
    saved = load_file(src / "adapter_model.safetensors")
    assert saved and all(k.startswith("base_model.model.thinker.") for k in saved)
    assert any(".audio_tower.proj1." in k for k in saved)

    dst = adapters.convert_adapter_dir(src, tmp_path / "native_lora", base_model=str(path))
    converted = load_file(dst / "adapter_model.safetensors")
    assert adapters.detect_layout(converted) == "native"
    config = json.loads((dst / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(path)
    # Bare names match in both layouts, except the aligner's.
    assert sorted(config["target_modules"]) == ["fc1", "linear_1", "linear_2", "q_proj", "v_proj"]
    back = adapters.convert_adapter_dir(dst, tmp_path / "back", to="qwen-asr")
    assert sorted(load_file(back / "adapter_model.safetensors")) == sorted(saved)

    native = Qwen3ASRForConditionalGeneration.from_pretrained(path).eval()
    features = {"input_ids": torch.tensor([[5, 6, 7, 8]])}
    with torch.no_grad():
        base_logits = native(**features).logits
    model = PeftModel.from_pretrained(native, dst).eval()
    state = model.state_dict()
    for key, value in converted.items():
        live = key.replace(".lora_A.weight", ".lora_A.default.weight").replace(".lora_B.weight", ".lora_B.default.weight")
        torch.testing.assert_close(state[live], value, atol=0, rtol=0)
    with torch.no_grad():
        lora_logits = model(**features).logits
        # The same adapter applied through the qwen-asr tree gives the same outputs.
        donor_logits = donor(**features).logits
    assert not torch.allclose(lora_logits, base_logits)
    torch.testing.assert_close(lora_logits, donor_logits, atol=1e-5, rtol=0)


def test_convert_adapter_dir_bad_input(tmp_path):
    with pytest.raises(InputError, match="no adapter_config.json"):
        adapters.convert_adapter_dir(tmp_path, tmp_path / "out")
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(InputError, match="adapter_model.safetensors or adapter_model.bin"):
        adapters.convert_adapter_dir(tmp_path, tmp_path / "out")
    assert adapters.main([str(tmp_path), str(tmp_path / "out")]) == 2
