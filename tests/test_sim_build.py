"""Corpus build: files + manifest, resume after interruption, Shar provenance, CLI."""

import json

import numpy as np
import pytest
import soundfile as sf
from lhotse import CutSet, MonoCut, Recording, SupervisionSegment

import lhotse_wild
import lhotse_wild.build as build
from lhotse_wild.preview import demo_signal
from nemo_wild_eval.errors import InputError
from wildasr.cli import main as wildasr_main

SR = 16000


def corpus(tmp_path, n=4):
    cuts = []
    for i in range(n):
        x = demo_signal(SR, 1.0 + 0.2 * i) * (0.5 + 0.1 * i)
        path = tmp_path / f"clean{i}.wav"
        sf.write(path, x, SR, subtype="FLOAT")
        rec = Recording.from_file(path, recording_id=f"clean{i}")
        sup = SupervisionSegment(id=f"clean{i}-s", recording_id=rec.id, start=0.0, duration=rec.duration,
                                 text=f"utterance {i}")
        cuts.append(MonoCut(id=f"clean{i}", start=0.0, duration=rec.duration, channel=0, recording=rec,
                            supervisions=[sup]))
    return CutSet.from_cuts(cuts)


def test_build_writes_audio_and_manifest_with_provenance(tmp_path):
    cuts = corpus(tmp_path)
    out = lhotse_wild.degrade_cuts(cuts, seed=7, num_per_cut=2, output_dir=tmp_path / "wild", audio_format="wav",
                                   progress=False)
    got = list(out)
    assert sorted(c.id for c in got) == sorted(f"clean{i}_wild{k}" for i in range(4) for k in range(2))
    clean = {c.id: c for c in cuts}
    for c in got:
        src = clean[c.id.rsplit("_wild", 1)[0]]
        wild = c.custom["wild"]
        assert wild["scenario"] in lhotse_wild.SCENARIOS and wild["sampler"] == "linear"
        assert c.recording.transforms is None  # rendered: the file already holds degraded audio
        assert c.num_samples == src.num_samples and c.supervisions[0].text == src.supervisions[0].text
        # the stored float wav replays bit-exactly from the provenance
        assert np.array_equal(c.load_audio(), lhotse_wild.replay(src.load_audio(), SR, wild["params"]))
    # the same call without output_dir gives the same draws, lazily
    lazy = lhotse_wild.degrade_cuts(cuts, seed=7, num_per_cut=2, progress=False)
    assert {c.id: c.custom["wild"] for c in lazy} == {c.id: c.custom["wild"] for c in got}


def test_resume_after_interruption_never_duplicates_or_loses(tmp_path, monkeypatch):
    cuts = corpus(tmp_path)
    real = build.write_degraded
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "write_degraded", flaky)
    with pytest.raises(KeyboardInterrupt):
        lhotse_wild.degrade_cuts(cuts, seed=1, num_per_cut=2, output_dir=tmp_path / "w", progress=False)
    manifest = tmp_path / "w" / "cuts.jsonl"
    first = manifest.read_text().splitlines()
    assert len(first) == 3
    with manifest.open("a") as f:
        f.write('{"id": "clean3_wild0", "start": 0.0, "dur')  # a torn line from a killed writer
    monkeypatch.setattr(build, "write_degraded", real)
    out = lhotse_wild.degrade_cuts(cuts, seed=1, num_per_cut=2, output_dir=tmp_path / "w", progress=False)
    ids = [c.id for c in out]
    assert len(ids) == 8 and len(set(ids)) == 8
    assert manifest.read_text().splitlines()[:3] == first
    # a rerun does nothing new
    again = lhotse_wild.degrade_cuts(cuts, seed=1, num_per_cut=2, output_dir=tmp_path / "w", progress=False)
    assert [c.id for c in again] == ids
    with pytest.raises(InputError, match="seed"):
        lhotse_wild.degrade_cuts(cuts, seed=2, num_per_cut=2, output_dir=tmp_path / "w", progress=False)


def test_shar_keeps_provenance(tmp_path):
    cuts = corpus(tmp_path, n=3)
    out = lhotse_wild.degrade_cuts(cuts, seed=3, output_dir=tmp_path / "w", shar=True, progress=False)
    ref = {c.id: c for c in out}
    shar = CutSet.from_shar(in_dir=tmp_path / "w" / "shar")
    seen = 0
    for c in shar:
        seen += 1
        assert c.custom["wild"] == ref[c.id].custom["wild"]
        assert np.allclose(c.load_audio(), ref[c.id].load_audio(), atol=1 / 32768)
    assert seen == 3


def test_duplicate_ids_are_reported(tmp_path):
    cuts = corpus(tmp_path, n=2)
    dup = CutSet.from_cuts(list(cuts) + [cuts[0]])
    with pytest.raises(InputError, match="duplicate cut id 'clean0'"):
        lhotse_wild.degrade_cuts(dup, output_dir=tmp_path / "d", progress=False)


def test_too_short_cut_raises_or_is_recorded_as_skipped(tmp_path):
    cuts = list(corpus(tmp_path, n=2))
    short = cuts[1].truncate(duration=0.05)
    data = CutSet.from_cuts([cuts[0], short])
    with pytest.raises(InputError, match=short.id):
        lhotse_wild.degrade_cuts(data, output_dir=tmp_path / "r", progress=False)
    out = lhotse_wild.degrade_cuts(data, output_dir=tmp_path / "s", on_error="skip", progress=False)
    assert [c.id for c in out] == [f"{cuts[0].id}_wild0"]
    skipped = [json.loads(line) for line in (tmp_path / "s" / "skipped.jsonl").read_text().splitlines()]
    assert skipped[0]["id"] == f"{short.id}_wild0" and "at least" in skipped[0]["reason"]


def test_cli_simulate(tmp_path, capsys):
    corpus(tmp_path, n=2).to_file(tmp_path / "in.jsonl.gz")
    rc = wildasr_main(["simulate", "--cuts", str(tmp_path / "in.jsonl.gz"), "--out", str(tmp_path / "o"),
                       "--scenarios", "noise,far_field_noise", "--seed", "4", "--quiet"])
    assert rc == 0
    got = CutSet.from_file(tmp_path / "o" / "cuts.jsonl")
    assert len(got) == 2 and {c.custom["wild"]["scenario"] for c in got} <= {"noise", "far_field_noise"}
    assert "2 degraded cuts" in capsys.readouterr().out
    rc = wildasr_main(["simulate", "--cuts", str(tmp_path / "in.jsonl.gz"), "--out", str(tmp_path / "p"),
                       "--scenarios", "noise_far_field"])
    assert rc == 2 and "noise_far_field" in capsys.readouterr().err
    assert wildasr_main(["simulate", "--out", str(tmp_path / "v"), "--preview"]) == 0
    assert (tmp_path / "v" / "preview.png").stat().st_size > 10_000


def test_corrupt_audio_file_is_named_by_cut_id(tmp_path):
    from lhotse.audio import AudioSource
    from lhotse.utils import fastcopy

    cuts = list(corpus(tmp_path, n=2))
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 50)
    rec = fastcopy(cuts[1].recording, sources=[AudioSource(type="file", channels=[0], source=str(tmp_path / "bad.wav"))])
    data = CutSet.from_cuts([cuts[0], fastcopy(cuts[1], recording=rec)])
    with pytest.raises(InputError, match="clean1.*cannot load audio"):
        lhotse_wild.degrade_cuts(data, output_dir=tmp_path / "r", progress=False)
    out = lhotse_wild.degrade_cuts(data, output_dir=tmp_path / "s", on_error="skip", progress=False)
    assert [c.id for c in out] == ["clean0_wild0"]
    assert json.loads((tmp_path / "s" / "skipped.jsonl").read_text())["id"] == "clean1_wild0"


def test_render_cut_is_the_shared_step_and_matches_the_written_files(tmp_path):
    """The per-cut function both drivers call: its in-memory audio is the file the build writes."""
    cuts = corpus(tmp_path, n=2)
    settings = build.BuildSettings.make(seed=7, num_per_cut=2)
    bank = lhotse_wild.NoiseBank(babble_cuts=list(cuts))
    out = {c.id: c for c in lhotse_wild.degrade_cuts(cuts, seed=7, num_per_cut=2, output_dir=tmp_path / "w",
                                                     progress=False)}
    for cut in cuts:
        rendered = build.render_cut(cut, settings, bank, skip={f"{cut.id}_wild1"})
        assert [r.id for r in rendered] == [f"{cut.id}_wild0"]
        r = rendered[0]
        written = out[r.id]
        assert r.audio == open(written.recording.sources[0].source, "rb").read()  # same bytes
        assert r.cut.custom == written.custom and r.cut.supervisions == written.supervisions
    with pytest.raises(InputError, match="num_per_cut"):
        build.BuildSettings.make(num_per_cut=0)
