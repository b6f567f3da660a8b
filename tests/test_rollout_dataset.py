"""``AudioASRDataset``: Lhotse cuts / Shar / NeMo manifests -> verl rows, and every bad input named."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from nemo_wild_eval.errors import InputError
from verl_dgwgpo.testing import rollout as testing
from verl_dgwgpo.rollout.dataset import AudioASRDataset
from verl_dgwgpo.tiny_models import tiny_model_dir


@pytest.fixture(scope="module")
def processors(tmp_path_factory):
    from transformers import AutoProcessor

    root = tmp_path_factory.getbasetemp() / "rollout_tiny"
    return {f: AutoProcessor.from_pretrained(tiny_model_dir(f, root)) for f in ("qwen3_asr", "qwen2_audio")}


def _dataset(files, processor, **config):
    return AudioASRDataset(files, processor.tokenizer, config, processor=processor)


def _nemo(tmp_path, records):
    path = tmp_path / "manifest.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _wav(path, seconds, rate=16000, channels=1):
    x = (0.1 * np.random.default_rng(0).standard_normal((int(seconds * rate), channels))).astype(np.float32)
    sf.write(path, x if channels > 1 else x[:, 0], rate)
    return path.name


def test_real_degraded_speech_rows(piper_clean_cuts, processors):
    """Piper speech through lhotse_wild's simulator: provenance and base WER reach extra_info."""
    from lhotse import CutSet
    from lhotse_wild.build import degrade_one_cut
    from lhotse_wild.split import apply_base_wer

    cut = next(iter(piper_clean_cuts))
    wild, samples = degrade_one_cut(cut, 0, scenarios="all", seed=7)
    wild = apply_base_wer(wild, {"cut_id": wild.id, "wer": 0.4, "hyp": "x", "asr": "pocketsphinx"})
    ds = _dataset(CutSet.from_cuts([wild]), processors["qwen3_asr"])
    row = ds[0]
    info = row["extra_info"]
    assert info["cut_id"] == wild.id and info["base_wer"] == 0.4
    assert info["scenario"] == wild.custom["wild"]["scenario"]
    assert info["severity"] == pytest.approx(wild.custom["wild"]["severity"])
    assert row["reward_model"]["ground_truth"] == cut.supervisions[0].text
    audio = [b["audio"] for m in row["raw_prompt"] if isinstance(m["content"], list) for b in m["content"]]
    np.testing.assert_allclose(audio[0], samples.reshape(-1), atol=1e-6)
    # Qwen3-ASR's prompt: an (empty) system turn, then the user turn holding only the clip.
    assert [m["role"] for m in row["raw_prompt"]] == ["system", "user"]


def test_nemo_manifest_and_shar_rows(tmp_path, processors):
    from lhotse import CutSet

    name = _wav(tmp_path / "a.wav", 1.0)
    manifest = _nemo(tmp_path, [
        {"audio_filepath": name, "text": "one two", "duration": 1.0, "scenario": "reverb", "severity": 0.3,
         "base_wer": 0.5, "lang": "en"},
        {"audio_filepath": name, "text": "three", "offset": 0.25, "duration": 0.5},
    ])
    ds = _dataset(str(manifest), processors["qwen2_audio"])
    rows = [ds[0], ds[1]]
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["one two", "three"]
    assert rows[0]["extra_info"]["scenario"] == "reverb" and rows[0]["extra_info"]["base_wer"] == 0.5
    assert rows[1]["extra_info"]["duration"] == pytest.approx(0.5)
    # Qwen2-Audio: no system turn, the instruction follows the clip in the user turn.
    assert rows[0]["raw_prompt"][0]["content"][1]["type"] == "text"

    cuts_path = testing.write_cuts(tmp_path / "cuts", [0.5, 0.8])
    shar = tmp_path / "shar"
    shar.mkdir()
    CutSet.from_file(cuts_path).to_shar(shar, fields={"recording": "flac"})
    ds = _dataset([str(shar), str(manifest)], processors["qwen3_asr"])
    assert len(ds) == 4 and ds[1]["extra_info"]["cut_id"] == "cut1"


def test_empty_transcript_is_named_or_skipped(tmp_path, processors):
    name = _wav(tmp_path / "a.wav", 0.5)
    manifest = _nemo(tmp_path, [{"audio_filepath": name, "text": "ok"}, {"audio_filepath": name, "text": " ", "id": "u2"}])
    with pytest.raises(InputError, match=r"manifest.json:2: cut 'u2' has an empty transcript"):
        _dataset(str(manifest), processors["qwen3_asr"])
    ds = _dataset(str(manifest), processors["qwen3_asr"], skip_bad=True)
    assert len(ds) == 1 and ds.skipped == {"empty_transcript": 1}


def test_clip_over_the_limit(tmp_path, processors):
    manifest = testing.write_cuts(tmp_path, [0.5, 2.5])
    with pytest.raises(InputError, match=r"cut 'cut1' lasts 2.50 s, over the 2 s limit"):
        _dataset(str(manifest), processors["qwen3_asr"], max_audio_seconds=2.0)
    assert len(_dataset(str(manifest), processors["qwen3_asr"], max_audio_seconds=2.0, skip_bad=True)) == 1
    # Qwen2-Audio's window (4 s in the tiny model, 30 s in the real one) is a hard limit.
    with pytest.raises(InputError, match="exceeds the model's 4 s window"):
        _dataset(str(manifest), processors["qwen2_audio"], max_audio_seconds=10)


def test_sample_rate_mismatch(tmp_path, processors):
    manifest = testing.write_cuts(tmp_path, [0.5], sampling_rate=8000)
    with pytest.raises(InputError, match=r"cut 'cut0' is 8000 Hz but the processor expects 16000 Hz"):
        _dataset(str(manifest), processors["qwen3_asr"])
    row = _dataset(str(manifest), processors["qwen3_asr"], resample=True)[0]
    assert row["raw_prompt"][1]["content"][0]["audio"].shape == (8000,)


def test_audio_that_fails_to_load(tmp_path, processors):
    good = _wav(tmp_path / "a.wav", 0.5)
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really a wav")
    manifest = _nemo(tmp_path, [{"audio_filepath": good, "text": "a"}, {"audio_filepath": "bad.wav", "text": "b", "id": "bad"}])
    ds = _dataset(str(manifest), processors["qwen3_asr"])
    with pytest.raises(InputError, match="cut 'bad': audio failed to load"):
        ds[1]
    ds = _dataset(str(manifest), processors["qwen3_asr"], validate_audio=True, skip_bad=True)
    assert len(ds) == 1 and ds.skipped == {"audio": 1}
    stereo = _nemo(tmp_path, [{"audio_filepath": _wav(tmp_path / "st.wav", 0.5, channels=2), "text": "s", "id": "st"}])
    with pytest.raises(InputError, match="cut 'st' has 2 channels"):
        _dataset(str(stereo), processors["qwen3_asr"])[0]


def test_unknown_manifest_is_refused(tmp_path, processors):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"prompt": "hi"}) + "\n")
    with pytest.raises(InputError, match="neither a Lhotse cut manifest nor a NeMo manifest"):
        _dataset(str(path), processors["qwen3_asr"])
