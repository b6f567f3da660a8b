"""``wildasr rl --tiny``: a run that needs nothing from a model hub, built from the project's own parts.

- the policy: a small random Qwen3-ASR (or Qwen2-Audio) of the real transformers classes with a
  self-built tokenizer (:func:`verl_dgwgpo.tiny_models.tiny_model_dir`), linked as ``OUT/tiny/model``;
- the RL split: ``utterances`` Piper sentences (the project's synthesiser, seeded) degraded by
  ``lhotse_wild.degrade_round_robin`` (one scenario each, round-robin over the 54, linear severity),
  written as a Lhotse cut manifest with the simulator's provenance; the clean originals are kept beside it.

Both are built once under ``OUT/tiny`` and reused by a rerun (resume) of the same ``OUT``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["tiny_corpus", "tiny_model", "TINY_UTTERANCES"]

TINY_UTTERANCES = 8


def tiny_model(out: Path, *, seed: int = 0, family: str = "qwen3_asr") -> Path:
    """``OUT/tiny/model``: the random policy of ``family`` (built on first use; a rerun must ask for
    the same family)."""
    from verl_dgwgpo.tiny_models import tiny_model_dir

    from nemo_wild_eval.errors import InputError

    path = tiny_model_dir(family, Path(out) / "tiny", seed=seed)
    model = Path(out) / "tiny" / "model"
    if not model.exists():
        model.symlink_to(path.name, target_is_directory=True)
    elif model.resolve() != path.resolve():
        raise InputError(f"OUT/tiny/model is {model.resolve().name}, not {family}: use another --out", source="--tiny-family")
    return model


def tiny_corpus(out: Path, *, utterances: int = TINY_UTTERANCES, seed: int = 0) -> Path:
    """``OUT/tiny/rl.jsonl.gz``: Piper speech degraded by the simulator (built on first use)."""
    from lhotse import CutSet

    import lhotse_wild as lw

    root = Path(out) / "tiny"
    manifest = root / "rl.jsonl.gz"
    if manifest.is_file():
        return manifest
    from wild_corpus import synth

    sentences = synth.load_sentences()[: max(utterances, 1) * 4]
    items = synth.plan_corpus(sentences, utterances, synth.DEFAULT_STYLES, seed)
    clean = list(synth.synthesize_corpus(items, root / "clean", progress=False))
    wild = lw.degrade_round_robin(clean, root / "wild", seed=seed, stream=15, scenario_stride=7, suffix="_wild")
    tmp = root / ".rl.jsonl.gz"
    CutSet.from_cuts(wild).to_file(tmp)
    os.replace(tmp, manifest)
    (root / "README.json").write_text(
        json.dumps({"utterances": len(wild), "scenarios": [c.custom["wild"]["scenario"] for c in wild]}) + "\n"
    )
    return manifest
