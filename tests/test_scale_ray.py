"""Corpus build and base-WER pass on a local Ray (2 CPUs): equal to in-process, resumable, fault-tolerant.

One Ray instance for the whole module (starting Ray costs seconds). Hooks run inside Ray workers, so
they are closures (pickled by value) that import what they need themselves.
"""

import json
import os
import sys

import numpy as np
import pytest
import soundfile as sf
from lhotse import CutSet, MonoCut, Recording, SupervisionSegment

import lhotse_wild
from lhotse_wild import ray_build
from lhotse_wild.preview import demo_signal
from lhotse_wild.ray_build import count_built, degrade_cuts_ray
from nemo_wild_eval.errors import InputError
from wildasr.cli import main as wildasr_main

ray = pytest.importorskip("ray")

SR = 16000
SHAR_ONLY = ("shard_origin", "shar_epoch")  # what Lhotse's Shar reader adds to custom


@pytest.fixture(scope="module")
def local_ray():
    # helpers of this module run inside Ray workers, which cannot import a test module by name
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20,
                 log_to_driver=False, configure_logging=False)
    yield ray
    if started:
        ray.shutdown()


def write_corpus(folder, n=6):
    folder.mkdir(parents=True, exist_ok=True)
    cuts = []
    for i in range(n):
        x = np.roll(demo_signal(SR, 0.8 + 0.1 * i), 331 * i) * (0.5 + 0.05 * i)
        path = folder / f"clean{i}.wav"
        sf.write(path, x, SR, subtype="FLOAT")
        rec = Recording.from_file(path, recording_id=f"clean{i}")
        sup = SupervisionSegment(id=f"clean{i}-s", recording_id=rec.id, start=0.0, duration=rec.duration,
                                 text=f"utterance number {i}")
        cuts.append(MonoCut(id=f"clean{i}", start=0.0, duration=rec.duration, channel=0, recording=rec,
                            supervisions=[sup]))
    return CutSet.from_cuts(cuts)


OPTS = dict(seed=3, num_per_cut=2, babble_pool=3, progress=False)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The in-process build (files + manifest) of a 6-cut corpus: what every Ray run must equal."""
    root = tmp_path_factory.mktemp("ref")
    cuts = write_corpus(root / "clean")
    ref = lhotse_wild.degrade_cuts(cuts, output_dir=root / "inproc", **OPTS)
    return cuts, {c.id: (strip(c), c.load_audio()) for c in ref}


def strip(cut):
    d = cut.to_dict()
    d["custom"] = {k: v for k, v in d["custom"].items() if k not in SHAR_ONLY}
    d.pop("recording")  # file vs Shar placeholder: compared through the audio instead
    d["start"] = 0.0
    return d


def assert_same(result, reference):
    got = list(result)
    ids = [c.id for c in got]
    assert len(ids) == len(set(ids)), "duplicated cuts"
    assert sorted(ids) == sorted(reference), "lost or extra cuts"
    for c in got:
        d, audio = reference[c.id]
        assert strip(c) == d, c.id  # supervisions, custom["wild"] provenance, durations
        assert np.array_equal(c.load_audio(), audio), c.id  # bit for bit


def test_ray_build_equals_in_process_and_rerun_does_nothing(local_ray, reference, tmp_path):
    cuts, ref = reference
    out = tmp_path / "ray"
    result = degrade_cuts_ray(cuts, out, shard_size=2, **OPTS)
    assert_same(result, ref)
    assert count_built(out) == (12, 0)
    shar = sorted(os.listdir(out / "shar"))
    assert shar == [f"{f}.{i:06d}.{e}" for f, e in (("cuts", "jsonl.gz"), ("recording", "tar")) for i in range(3)]
    # a plain Lhotse reader sees the same corpus, provenance included
    assert sorted(c.custom["wild"]["scenario"] for c in CutSet.from_shar(in_dir=out / "shar")) == sorted(
        d["custom"]["wild"]["scenario"] for d, _ in ref.values())
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "shar").iterdir()}
    again = degrade_cuts_ray(cuts, out, shard_size=2, **OPTS)  # resume of a finished run: nothing redone
    assert {p.name: p.stat().st_mtime_ns for p in (out / "shar").iterdir()} == stamps
    assert_same(again, ref)
    with pytest.raises(InputError, match="shard_size"):
        degrade_cuts_ray(cuts, out, shard_size=3, **OPTS)  # other sharding: refuses to mix


def test_killed_worker_is_retried_and_nothing_is_lost(local_ray, reference, tmp_path):
    cuts, ref = reference
    flag = tmp_path / "killed-once"

    def kill_first_attempt(shard, pos):  # runs in a Ray worker
        import os
        if shard == 1 and pos == 1 and not os.path.exists(flag):
            open(flag, "w").close()
            os._exit(1)  # the worker process dies mid-shard, after writing part of it

    out = tmp_path / "ray"
    leads = []

    def watched(cuts):  # backpressure: the driver reads input at most max_in_flight shards ahead
        for i, c in enumerate(cuts):
            finished = len(list((out / "shards").glob("*.json"))) if (out / "shards").exists() else 0
            leads.append(i // 2 - finished)
            yield c

    result = degrade_cuts_ray(watched(cuts), out, shard_size=2, max_in_flight=1, task_hook=kill_first_attempt,
                              **OPTS)
    assert flag.exists()  # the kill did happen
    assert len(leads) == 6 and max(leads) <= 1
    assert_same(result, ref)
    assert count_built(out) == (12, 0)
    assert not (out / ".tmp").exists()  # the dead attempt's partial files are gone


def test_interrupted_run_resumes_to_the_uninterrupted_result(local_ray, reference, tmp_path):
    cuts, ref = reference
    out = tmp_path / "ray"

    def interrupted(cuts, after):
        for i, c in enumerate(cuts):
            if i == after:
                raise KeyboardInterrupt  # the driver is stopped while shards are in flight
            yield c

    with pytest.raises(KeyboardInterrupt):
        degrade_cuts_ray(interrupted(cuts, 5), out, shard_size=2, max_in_flight=1, **OPTS)
    done = sorted(os.listdir(out / "shards"))
    assert 1 <= len(done) < 3
    # what a hard kill leaves behind: a half-written shard without marker, a dead attempt's folder
    (out / "shar" / "recording.000002.tar").write_bytes(b"torn")
    (out / ".tmp" / "000002-dead").mkdir(parents=True)
    result = degrade_cuts_ray(cuts, out, shard_size=2, **OPTS)
    assert_same(result, ref)
    assert count_built(out) == (12, 0)


def test_corrupt_input_is_reported_with_its_id_and_the_rest_proceeds(local_ray, reference, tmp_path):
    cuts, ref = reference
    bad_path = tmp_path / "bad.wav"
    bad_path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 100)
    from lhotse.audio import AudioSource
    from lhotse.utils import fastcopy

    good = list(cuts)
    rec = fastcopy(good[2].recording, sources=[AudioSource(type="file", channels=[0], source=str(bad_path))])
    bad = fastcopy(good[2], recording=rec)  # same cut, its file now corrupt
    data = CutSet.from_cuts(good[:2] + [bad] + good[3:])
    # a cut fails when its own audio is clean2's, or when its babble noise takes a talker from clean2
    needs_bad = sorted(k for k, (d, _) in ref.items() if k.startswith("clean2_") or any(
        t["cut_id"] == "clean2" for st in d["custom"]["wild"]["params"]["steps"]
        if st["effect"] == "noise" and st["source"]["kind"] == "babble" for t in st["source"]["talkers"]))
    with pytest.raises(InputError, match="clean2_wild0"):
        degrade_cuts_ray(data, tmp_path / "r", shard_size=2, **OPTS)
    clean_shards = sorted(f"{i:06d}.json" for i in range(3)
                          if not any(k.startswith((f"clean{2 * i}_", f"clean{2 * i + 1}_")) for k in needs_bad))
    assert sorted(os.listdir(tmp_path / "r" / "shards")) == clean_shards  # the rest is done
    result = degrade_cuts_ray(data, tmp_path / "s", shard_size=2, on_error="skip", **OPTS)
    expected = {k: v for k, v in ref.items() if k not in needs_bad}
    assert_same(result, expected)
    skipped = [json.loads(line) for line in (tmp_path / "s" / "skipped.jsonl").read_text().splitlines()]
    assert sorted(s["id"] for s in skipped) == needs_bad
    assert all("cannot load" in s["reason"] and "clean2" in s["reason"] for s in skipped)


def test_cli_simulate_ray(local_ray, reference, tmp_path, capsys):
    cuts, ref = reference
    cuts.to_file(tmp_path / "in.jsonl.gz")
    rc = wildasr_main(["simulate", "--cuts", str(tmp_path / "in.jsonl.gz"), "--out", str(tmp_path / "o"),
                       "--seed", "3", "--num-per-cut", "2", "--babble-pool", "3", "--shard-size", "4",
                       "--ray", "--quiet"])
    assert rc == 0 and "12 degraded cuts" in capsys.readouterr().out
    assert_same(CutSet.from_shar(in_dir=tmp_path / "o" / "shar"), ref)


# ------------------------------------------------------------------------------ base-WER pass on Ray
class LoudnessASR:
    """A deterministic stand-in ASR: keeps the first k words of the reference, k from the audio level.

    Enough to check that the Ray map gives the in-process records (the real pocketsphinx backend is
    exercised by the split's own tests); it reads the audio, so corrupt files fail like a real model.
    """

    name = "loudness-asr"

    def __init__(self, texts):
        self.texts = texts

    def transcribe(self, samples, sampling_rate):
        import numpy as np

        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        text = self.texts[round(rms, 6)]
        words = text.split()
        return " ".join(words[: int(rms * 1000) % (len(words) + 1)])

    def nbest(self, samples, sampling_rate, n):
        return [self.transcribe(samples, sampling_rate)]


def test_ray_base_wer_equals_in_process(local_ray, reference, tmp_path):
    from lhotse_wild.ray_split import attach_base_wer_ray
    from lhotse_wild.split import attach_base_wer

    cuts, _ = reference
    texts = {round(float(np.sqrt(np.mean(np.square(c.load_audio(), dtype=np.float64)))), 6): c.supervisions[0].text
             for c in cuts}
    asr = LoudnessASR(texts)
    here = attach_base_wer(cuts, asr, cache=tmp_path / "a.jsonl", progress=False)
    there = attach_base_wer_ray(cuts, asr, cache=tmp_path / "b.jsonl", batch_size=2, progress=False)
    assert [(c.id, c.custom) for c in there] == [(c.id, c.custom) for c in here]
    assert len({c.custom["base_wer"] for c in there}) > 1  # not a constant
    lines = (tmp_path / "b.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["cut_id"] for x in lines) == sorted(c.id for c in cuts)
    # resumable: a rerun transcribes nothing (no actor is even started) and gives the same cuts
    again = attach_base_wer_ray(cuts, asr, cache=tmp_path / "b.jsonl", progress=False)
    assert (tmp_path / "b.jsonl").read_text().splitlines() == lines
    assert [(c.id, c.custom) for c in again] == [(c.id, c.custom) for c in here]


def test_shard_writer_matches_lhotse_shar_writer_and_stores_the_rendered_bytes(reference, tmp_path):
    """No Ray needed: our shard writer == Lhotse's SharWriter (cuts, audio), minus the re-encode."""
    from lhotse.shar.writers import SharWriter

    from lhotse_wild.build import BuildSettings, render_cut

    cuts, _ = reference
    settings = BuildSettings.make(seed=3, num_per_cut=1)
    rendered = [r for c in list(cuts)[:3] for r in render_cut(c, settings, None)]
    (tmp_path / "ours").mkdir()
    (tmp_path / "lhotse").mkdir()
    with ray_build.ShardWriter(tmp_path / "ours", "flac") as w:
        for r in rendered:
            w.write(r.cut, r.audio)
    with SharWriter(tmp_path / "lhotse", fields={"recording": "flac"}, shard_size=None) as w:
        for r in rendered:
            w.write(r.cut)
    ours = list(CutSet.from_shar(fields={"cuts": [str(tmp_path / "ours" / "cuts.jsonl.gz")],
                                         "recording": [str(tmp_path / "ours" / "recording.tar")]}))
    theirs = list(CutSet.from_shar(fields={"cuts": [str(tmp_path / "lhotse" / "cuts.jsonl.gz")],
                                           "recording": [str(tmp_path / "lhotse" / "recording.tar")]}))
    assert [strip(a) for a in ours] == [strip(b) for b in theirs]
    assert [a.recording.to_dict()["sources"][0]["type"] for a in ours] == ["memory"] * 3
    for a, b, r in zip(ours, theirs, rendered):
        assert np.array_equal(a.load_audio(), b.load_audio())
        assert a.recording.sources[0].source == r.audio  # the rendered bytes, not a re-encode


def test_cli_split_ray_equals_in_process(local_ray, reference, tmp_path, capsys):
    """`wildasr split --ray` swaps only where the real pocketsphinx pass runs: same cuts, same table."""
    from lhotse import CutSet
    from wildasr.cli import main

    cuts, _ = reference
    src = tmp_path / "in.jsonl.gz"
    CutSet.from_cuts(list(cuts)[:4]).to_file(src)
    common = ["split", "--cuts", str(src), "--lm-from-cuts", "--no-progress", "--normalizer", "basic"]
    assert main([*common, "--out", str(tmp_path / "here")]) == 0
    table_here = capsys.readouterr().out
    assert main([*common, "--out", str(tmp_path / "there"), "--ray"]) == 0
    table_there = capsys.readouterr().out
    here = CutSet.from_jsonl(tmp_path / "here" / "cuts_with_wer.jsonl.gz")
    there = CutSet.from_jsonl(tmp_path / "there" / "cuts_with_wer.jsonl.gz")
    assert len(here) == 4
    assert [(c.id, c.custom) for c in there] == [(c.id, c.custom) for c in here]
    assert table_there.split("wrote")[0] == table_here.split("wrote")[0]
