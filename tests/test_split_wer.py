"""WER split: exact bucket membership on hand-made cuts, RL enrichment rule, base-WER pass + cache, CLI."""

from __future__ import annotations

import json

import pytest
from lhotse import CutSet, MonoCut, Recording, SupervisionSegment
from lhotse.audio import AudioSource

from lhotse_wild.split import (
    apply_base_wer,
    attach_base_wer,
    base_wer_record,
    load_cache,
    regime_of,
    split_by_wer,
    write_split,
)
from nemo_wild_eval.errors import InputError
from nemo_wild_eval.text import align_words

WERS = {
    "c00": 0.0, "c01": 0.1, "c02": 0.3, "c03": 0.3000001, "c04": 0.5,
    "c05": 0.55, "c06": 0.7, "c07": 0.7000001, "c08": 1.0, "c09": 2.5, "c10": 0.2,
}


def _cut(cid: str, wer: float | None) -> MonoCut:
    rec = Recording(id=cid, sources=[AudioSource(type="file", channels=[0], source=f"/nonexistent/{cid}.wav")],
                    sampling_rate=16000, num_samples=16000, duration=1.0)
    sup = SupervisionSegment(id=cid, recording_id=cid, start=0.0, duration=1.0, text="a b c")
    return MonoCut(id=cid, start=0.0, duration=1.0, channel=0, recording=rec, supervisions=[sup],
                   custom=None if wer is None else {"base_wer": wer})


@pytest.fixture
def hand_cuts() -> CutSet:
    return CutSet.from_cuts(_cut(k, v) for k, v in WERS.items())


def ids(cuts) -> list[str]:
    return [c.id for c in cuts]


def test_exact_bucket_membership(hand_cuts):
    res = split_by_wer(hand_cuts)
    assert ids(res.dropped) == ["c07", "c08", "c09"]
    assert ids(res.kept) == ["c00", "c01", "c02", "c03", "c04", "c05", "c06", "c10"]
    assert ids(res.curriculum["wer_le_0.30"]) == ["c00", "c01", "c02", "c10"]
    assert ids(res.curriculum["wer_le_0.50"]) == ["c00", "c01", "c02", "c03", "c04", "c10"]
    assert ids(res.curriculum["wer_le_0.70"]) == ids(res.kept)
    assert ids(res.regimes["low"]) == ["c00", "c01", "c02", "c10"]
    assert ids(res.regimes["medium"]) == ["c03", "c04"]
    assert ids(res.regimes["high"]) == ["c05", "c06"]
    assert regime_of(0.3) == "low" and regime_of(0.30001) == "medium" and regime_of(0.71) is None


@pytest.mark.parametrize("ratio, n_low", [(0.75, 1), (0.5, 4), (0.4, 4), (0.9, 0), (1.0, 0)])
def test_rl_split_enrichment_rule(hand_cuts, ratio, n_low):
    # 4 medium/high cuts; n_low = min(#low=4, floor(4 * (1 - r) / r + 0.5))
    res = split_by_wer(hand_cuts, rl_ratio=ratio, seed=3)
    rl = ids(res.rl)
    assert {"c03", "c04", "c05", "c06"} <= set(rl)
    assert len(rl) == 4 + n_low
    assert set(rl) <= set(ids(res.kept))
    assert rl == [i for i in ids(res.kept) if i in set(rl)]  # input order kept
    assert split_by_wer(hand_cuts, rl_ratio=ratio, seed=3).rl == res.rl  # seeded
    s = res.summary()
    assert s["rl"] == len(rl)
    assert s["rl_medium_high_share"] == pytest.approx(4 / len(rl))


def test_rl_split_empty_without_medium_high():
    cuts = CutSet.from_cuts([_cut("a", 0.0), _cut("b", 0.2)])
    res = split_by_wer(cuts)
    assert res.rl == [] and res.summary()["rl_medium_high_share"] is None
    assert "no medium/high cuts" in res.table()


def test_custom_thresholds(hand_cuts):
    res = split_by_wer(hand_cuts, max_wer=1.0, buckets=(0.1, 0.5, 0.9))
    assert ids(res.dropped) == ["c09"]
    assert ids(res.regimes["low"]) == ["c00", "c01"]
    assert ids(res.regimes["high"]) == ["c05", "c06", "c07"]
    # kept but above the last bucket: counted as kept, in no regime
    assert "c08" in ids(res.kept) and all("c08" not in ids(v) for v in res.regimes.values())


@pytest.mark.parametrize(
    "kwargs, match",
    [({"buckets": (0.5, 0.3, 0.7)}, "increasing"), ({"buckets": (0.3, 0.5)}, "three"),
     ({"buckets": (0.3, 0.5, 0.8)}, "max_wer"), ({"rl_ratio": 0.0}, "rl_ratio")],
)
def test_bad_parameters(hand_cuts, kwargs, match):
    with pytest.raises(InputError, match=match):
        split_by_wer(hand_cuts, **kwargs)


def test_missing_or_bad_base_wer_names_the_cut():
    with pytest.raises(InputError, match="cut nower"):
        split_by_wer(CutSet.from_cuts([_cut("ok", 0.1), _cut("nower", None)]))
    with pytest.raises(InputError, match="cut neg"):
        split_by_wer(CutSet.from_cuts([_cut("neg", -0.1)]))


def test_summary_table_and_files(hand_cuts, tmp_path):
    res = split_by_wer(hand_cuts)
    table = res.table()
    assert "| all cuts | 11 | 100.0% |" in table
    assert "| dropped (WER > 0.70) | 3 | 27.3% |" in table
    assert "| curriculum WER ≤ 0.50 | 6 | 54.5% |" in table
    paths = write_split(res, tmp_path)
    for name, expected in [("kept", 8), ("dropped", 3), ("rl", 5), ("curriculum_wer_le_0.30", 4)]:
        assert len(CutSet.from_jsonl(paths[name])) == expected
    summary = json.loads(paths["summary_json"].read_text())
    assert summary["regimes"] == {"low": 4, "medium": 2, "high": 2}
    assert summary["params"]["buckets"] == [0.3, 0.5, 0.7]


class CountingASR:
    """Wraps the real transcriber and counts decodes (to prove the cache is used)."""

    def __init__(self, inner):
        self.inner, self.name, self.calls = inner, inner.name, 0

    def transcribe(self, samples, sampling_rate):
        self.calls += 1
        return self.inner.transcribe(samples, sampling_rate)

    def nbest(self, samples, sampling_rate, n):
        self.calls += 1
        return self.inner.nbest(samples, sampling_rate, n)


def test_attach_base_wer_real_asr_and_resume(piper_clean_cuts, pocketsphinx_asr, tmp_path):
    cache = tmp_path / "cache.jsonl"
    asr = CountingASR(pocketsphinx_asr)
    scored = attach_base_wer(piper_clean_cuts, asr, cache=cache, progress=False)
    assert asr.calls == len(piper_clean_cuts)
    for c in scored:
        # one source of truth: the stored WER is nemo_wild_eval.text's WER of the stored hypothesis
        assert c.custom["base_wer"] == align_words(c.supervisions[0].text, c.custom["base_hyp"]).wer
        assert c.custom["base_asr"] == pocketsphinx_asr.name
        assert c.custom["tts"]["engine"] == "piper"  # existing custom kept
    again = attach_base_wer(piper_clean_cuts, asr, cache=cache, progress=False)
    assert asr.calls == len(piper_clean_cuts)  # all from the cache
    assert [c.custom["base_wer"] for c in again] == [c.custom["base_wer"] for c in scored]
    # a run killed mid-write leaves a truncated last line: that cut is redone, the rest reused
    lines = cache.read_text().splitlines()
    cache.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:15])
    attach_base_wer(piper_clean_cuts, asr, cache=cache, progress=False)
    assert asr.calls == len(piper_clean_cuts) + 1
    # another normaliser is another cache key
    assert load_cache(cache, asr.name, "basic") == {}


def test_record_with_nbest_and_bad_audio(piper_clean_cuts, pocketsphinx_asr):
    c = piper_clean_cuts[0]
    rec = base_wer_record(c, pocketsphinx_asr, nbest=4)
    assert rec["hyp"] == rec["nbest"][0] and 1 <= len(rec["nbest"]) <= 4
    assert json.loads(json.dumps(rec)) == rec
    with pytest.raises(InputError, match="cut c01"):
        base_wer_record(_cut("c01", None), pocketsphinx_asr)
    with pytest.raises(InputError, match="record is for"):
        apply_base_wer(c, {**rec, "cut_id": "other"})


def test_split_cli_end_to_end(piper_clean_cuts, tmp_path, capsys):
    from wildasr.cli import main

    src = tmp_path / "in.jsonl.gz"
    piper_clean_cuts.to_file(src)
    out = tmp_path / "split"
    rc = main(["split", "--cuts", str(src), "--out", str(out), "--lm-from-cuts", "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| all cuts | 6 | 100.0% |" in printed
    scored = CutSet.from_jsonl(out / "cuts_with_wer.jsonl.gz")
    assert len(scored) == 6 and all("base_wer" in c.custom for c in scored)
    kept = CutSet.from_jsonl(out / "kept.jsonl.gz")
    dropped = CutSet.from_jsonl(out / "dropped.jsonl.gz")
    assert len(kept) + len(dropped) == 6
    assert len(kept) >= 5  # clean speech with an in-domain LM
    assert len((out / "base_wer_cache.jsonl").read_text().splitlines()) == 6
    assert main(["split", "--cuts", str(tmp_path / "missing.jsonl"), "--out", str(out)]) == 2
