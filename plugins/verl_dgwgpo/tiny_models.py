"""Tiny randomly initialised audio LLMs for offline runs: every ``--tiny`` command, the tests, benchmarks.

No machine here reaches a model hub, so these stand in for checkpoints: the real transformers
classes (``Qwen2AudioForConditionalGeneration``, ``Qwen3ASRForConditionalGeneration``), the real
processors and feature extractors, saved to a directory that verl loads like any checkpoint.
The tokenizer is byte-level BPE without merges (256 byte tokens) plus each family's special tokens,
so any text round-trips. Public API: :func:`tiny_model_dir` (built once per directory, cached),
the two builders, :func:`build_tokenizer` and :data:`QWEN3_ASR_TEMPLATE` (for models that bring their
own vocabulary, e.g. ``wildasr.miniature``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["QWEN3_ASR_TEMPLATE", "build_tokenizer", "build_tiny_qwen2_audio", "build_tiny_qwen3_asr", "save_model_dir",
           "tiny_model_dir"]

# ChatML rendering of the Qwen3-ASR ASR prompt: a system turn (context), a user turn holding the
# audio placeholder, then the assistant header. Written here for the tiny tokenizer; real
# checkpoints ship their own template.
QWEN3_ASR_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}"
    "{% if c['type'] == 'audio' %}<|audio_start|><|audio_pad|><|audio_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(special_tokens: list[str], plain_tokens: list[str] = (), extra_special_tokens: dict | None = None):
    """A lossless byte-level tokenizer with the given special tokens (no network, no files)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: i for i, ch in enumerate(sorted(ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(special_tokens))
    if plain_tokens:
        tok.add_tokens(list(plain_tokens))
    kwargs = {"extra_special_tokens": extra_special_tokens} if extra_special_tokens else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", **kwargs
    )


def save_model_dir(model, processor, out_dir: Path, *, output_scale: float = 1.0) -> Path:
    """Save ``model`` + ``processor`` as a checkpoint directory verl loads (EOS/PAD in the generation config).

    ``output_scale`` multiplies the output embedding first. Why: with the initialiser's 0.02 std the
    LM head of a tiny model can only produce logits within about +-1, so no LoRA on the blocks can push
    its loss far below ln(vocab); a real checkpoint has no such ceiling. SFT runs that must show
    learning (``examples/sft/run_a2s_sft.sh --tiny``, the overfit test) scale it up.
    """
    if output_scale != 1.0:
        import torch

        with torch.no_grad():
            model.get_output_embeddings().weight.mul_(output_scale)
    out_dir.mkdir(parents=True, exist_ok=True)
    processor.save_pretrained(out_dir)
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    return out_dir


# The decoder of both tiny families: 2 layers of width 32, grouped-query attention 4/2.
_TINY_LM = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=4096)


def _build_and_save(model_cls, config, processor, out_dir: str | Path, *, seed: int, output_scale: float) -> Path:
    import torch

    config.architectures = [model_cls.__name__]
    torch.manual_seed(seed)
    return save_model_dir(model_cls(config), processor, Path(out_dir), output_scale=output_scale)


def build_tiny_qwen2_audio(out_dir: str | Path, *, seed: int = 0, window_seconds: int = 4,
                           output_scale: float = 1.0) -> Path:
    """Save a ~50 k-parameter Qwen2-Audio (Whisper-style encoder + Qwen2 LM) to ``out_dir``.

    The feature extractor's window is shortened to ``window_seconds`` (the real one is 30 s) so the
    encoder's fixed input length stays small on CPU; the encoder's positions match that window.
    """
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    tokenizer = build_tokenizer(
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]
    )
    fe = WhisperFeatureExtractor(feature_size=128, chunk_length=window_seconds)
    processor = Qwen2AudioProcessor(feature_extractor=fe, tokenizer=tokenizer)
    config = Qwen2AudioConfig(
        audio_config=dict(
            model_type="qwen2_audio_encoder",
            num_mel_bins=128,
            d_model=16,
            encoder_layers=1,
            encoder_attention_heads=2,
            encoder_ffn_dim=32,
            max_source_positions=fe.nb_max_frames // 2,
        ),
        text_config=dict(model_type="qwen2", vocab_size=len(tokenizer), **_TINY_LM),
        audio_token_id=processor.audio_token_id,
    )
    return _build_and_save(Qwen2AudioForConditionalGeneration, config, processor, out_dir, seed=seed,
                           output_scale=output_scale)


def build_tiny_qwen3_asr(out_dir: str | Path, *, seed: int = 0, output_scale: float = 1.0) -> Path:
    """Save a ~35 k-parameter native Qwen3-ASR (needs transformers >= 5.13) to ``out_dir``."""
    import transformers

    if not hasattr(transformers, "Qwen3ASRForConditionalGeneration"):
        raise RuntimeError(f"transformers {transformers.__version__} has no Qwen3-ASR (native from 5.13)")
    from transformers import (
        Qwen3ASRConfig,
        Qwen3ASRFeatureExtractor,
        Qwen3ASRForConditionalGeneration,
        Qwen3ASRProcessor,
    )

    tokenizer = build_tokenizer(
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|audio_start|>", "<|audio_end|>", "<|audio_pad|>"],
        plain_tokens=["<asr_text>"],
        extra_special_tokens={
            "audio_token": "<|audio_pad|>",
            "audio_bos_token": "<|audio_start|>",
            "audio_eos_token": "<|audio_end|>",
        },
    )
    processor = Qwen3ASRProcessor(
        feature_extractor=Qwen3ASRFeatureExtractor(), tokenizer=tokenizer, chat_template=QWEN3_ASR_TEMPLATE
    )
    config = Qwen3ASRConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=1,
            encoder_attention_heads=2,
            encoder_ffn_dim=32,
            d_model=16,
            output_dim=32,
            downsample_hidden_size=8,
            n_window=50,
            n_window_infer=100,
        ),
        # The default text config lists 28 layer_types; a 2-layer model must not inherit them.
        text_config=dict(model_type="qwen3", vocab_size=len(tokenizer), head_dim=8, tie_word_embeddings=True, **_TINY_LM),
        audio_token_id=processor.audio_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _build_and_save(Qwen3ASRForConditionalGeneration, config, processor, out_dir, seed=seed,
                           output_scale=output_scale)


_BUILDERS = {"qwen3_asr": build_tiny_qwen3_asr, "qwen2_audio": build_tiny_qwen2_audio}


def tiny_model_dir(family: str, root: str | Path, *, seed: int = 0, output_scale: float = 1.0) -> Path:
    """``root/<family>`` (``root/<family>_x<scale>`` with a scaled LM head), built on first use.

    Tests and reruns share one copy per directory; see :func:`save_model_dir` for ``output_scale``.
    """
    if family not in _BUILDERS:
        raise ValueError(f"unknown tiny family {family!r}; expected one of {sorted(_BUILDERS)}")
    if not output_scale > 0:
        raise ValueError(f"output_scale must be > 0, got {output_scale!r}")
    out = Path(root) / (family if output_scale == 1.0 else f"{family}_x{output_scale:g}")
    if not (out / "config.json").is_file():
        _BUILDERS[family](out, seed=seed, output_scale=output_scale)
    return out
