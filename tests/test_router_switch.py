"""In-place LoRA switching: routed output == base / LoRA model output token for token; exact round trips."""

from __future__ import annotations

import pytest
from router_fixtures import clearest_clean, router_corpus, router_splits, tiny_lora, trained_router  # noqa: F401

from nemo_wild_eval.errors import InputError

MAX_NEW = 12


def _asr(model_dir, adapter=None):
    from verl_dgwgpo.router.hf_asr import HFAudioASR

    return HFAudioASR(model_dir, adapter, max_new_tokens=MAX_NEW)


@pytest.fixture(scope="module")
def clips(router_splits, trained_router):
    """Two held-out clean utterances and two strongly degraded copies of them (held-out speech)."""
    import lhotse_wild

    pool = router_splits.test_clean.audio
    clean = [pool[i] for i in clearest_clean(trained_router[0], pool)]
    deg = [lhotse_wild.degrade(x, 16000, sc, 0.9, 11)[0] for x, sc in zip(clean, ("far_field_noise_dropout", "noise"))]
    return clean, deg


def test_routed_output_equals_base_on_clean_and_lora_on_degraded(tiny_lora, trained_router, clips):
    from peft import PeftModel
    from transformers import Qwen2AudioForConditionalGeneration

    from verl_dgwgpo.router.switch import route_batch

    model_dir, adapter = tiny_lora
    router, _, _ = trained_router
    clean, deg = clips
    batch = [clean[0], deg[0], clean[1], deg[1]]
    # Independent references: a plain base model, and peft's own (unmerged) LoRA forward.
    base = _asr(model_dir)
    ref_base = [base.token_ids(x, 16000) for x in batch]
    lora_ref = _asr(model_dir)
    lora_ref.model = PeftModel.from_pretrained(Qwen2AudioForConditionalGeneration.from_pretrained(model_dir), adapter).eval()
    ref_lora = [lora_ref.token_ids(x, 16000) for x in batch]
    assert ref_base != ref_lora  # the adapter really changes the output

    routed = _asr(model_dir, adapter)
    res = route_batch(batch, 16000, router, routed.switch, lambda xs: [routed.token_ids(x, 16000) for x in xs])
    assert [r.degraded for r in res.routes] == [False, True, False, True]
    for i, out in enumerate(res.outputs):
        assert out == (ref_lora[i] if res.routes[i].degraded else ref_base[i]), i
    assert res.switches == 2 and not routed.switch.active  # on for the degraded half, back off
    # Starting with the LoRA on, the degraded half goes first: one switch, no restore.
    routed.switch.on()
    res2 = route_batch(batch, 16000, router, routed.switch, lambda xs: [routed.token_ids(x, 16000) for x in xs],
                       routes=res.routes, restore=False)
    assert res2.outputs == res.outputs and res2.switches == 1 and not routed.switch.active


def test_switch_matches_peft_merge_and_1000_round_trips_are_exact(tiny_lora):
    import torch
    from peft import PeftModel
    from transformers import Qwen2AudioForConditionalGeneration

    from verl_dgwgpo.router.switch import LoraSwitch

    model_dir, adapter = tiny_lora
    sw = LoraSwitch.from_adapter(Qwen2AudioForConditionalGeneration.from_pretrained(model_dir), str(adapter))
    assert len(sw.deltas) == 2 * 3 + 3  # q,v,o_proj in 2 LM layers; q,v,fc1 in the encoder layer
    params = dict(sw.model.named_parameters())
    original = {n: p.detach().clone() for n, p in params.items()}
    merged = PeftModel.from_pretrained(Qwen2AudioForConditionalGeneration.from_pretrained(model_dir), adapter)
    merged = dict(merged.merge_and_unload().named_parameters())
    sw.on()
    for name, w, _ in sw.deltas:
        torch.testing.assert_close(w, merged[f"{name}.weight"], rtol=0, atol=1e-6)
    sw.off()
    for _ in range(1000):
        sw.on()
        sw.off()
    worst = max(float((p - original[n]).abs().max()) for n, p in params.items())
    assert worst <= 1e-6, worst
    assert sw.switches == 2002
    with sw.enabled():
        assert sw.active
    assert not sw.active


def test_dora_and_bad_adapters_are_refused(tiny_lora, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2AudioForConditionalGeneration

    from verl_dgwgpo.router.switch import LoraSwitch

    model_dir, _ = tiny_lora
    dora = get_peft_model(Qwen2AudioForConditionalGeneration.from_pretrained(model_dir),
                          LoraConfig(r=4, target_modules=["q_proj"], use_dora=True))
    with pytest.raises(InputError, match="DoRA"):
        LoraSwitch.from_peft(dora)
    with pytest.raises(InputError, match="adapter_config.json"):
        LoraSwitch.from_adapter(Qwen2AudioForConditionalGeneration.from_pretrained(model_dir), str(tmp_path))


def test_vllm_requests_per_clip():
    from nemo_wild_eval.errors import BackendUnavailable
    from verl_dgwgpo.router.model import RouteResult
    from verl_dgwgpo.router.switch import vllm_lora_requests

    class FakeLoRARequest:  # vLLM's constructor order: (lora_name, lora_int_id, lora_path)
        def __init__(self, name, int_id, path):
            self.args = (name, int_id, path)

    routes = [RouteResult(0.1, False, 1), RouteResult(0.9, True, 1), RouteResult(0.0, False, 0, True)]
    reqs = vllm_lora_requests(routes, "robust", "/a", 3, request_class=FakeLoRARequest)
    assert reqs[0] is None and reqs[2] is None and reqs[1].args == ("robust", 3, "/a")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailable, match="vllm"):
            vllm_lora_requests(routes, "robust", "/a")
