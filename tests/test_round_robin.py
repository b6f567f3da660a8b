"""lhotse_wild.degrade_round_robin: every scenario present, each item reproducible alone, journal resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lhotse import MonoCut, Recording, SupervisionSegment

import lhotse_wild
import lhotse_wild.round_robin as rr
from lhotse_wild.preview import demo_signal
from nemo_wild_eval.errors import InputError

SR = 16000


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    d = tmp_path_factory.mktemp("clean")
    cuts = []
    for i in range(3):
        x = demo_signal(SR, 0.3) * (0.4 + 0.1 * i)
        path = d / f"c{i}.wav"
        sf.write(path, x, SR, subtype="FLOAT")
        rec = Recording.from_file(path, recording_id=f"c{i}")
        sup = SupervisionSegment(id=f"c{i}-s", recording_id=rec.id, start=0.0, duration=rec.duration, text=f"say {i}")
        cuts.append(MonoCut(id=f"c{i}", start=0.0, duration=rec.duration, channel=0, recording=rec,
                            supervisions=[sup]))
    return cuts


def _sha(cut) -> str:
    return hashlib.sha256(Path(cut.recording.sources[0].source).read_bytes()).hexdigest()


def _expected(seed: int, stream: int, k: int) -> tuple[float, int]:
    rng = np.random.default_rng([seed, stream, k])
    severity = float(lhotse_wild.sample_severity("linear", rng))
    return severity, int(rng.integers(0, 2**31 - 1))


@pytest.fixture(scope="module")
def full(clean, tmp_path_factory):
    return lhotse_wild.degrade_round_robin(clean, tmp_path_factory.mktemp("full"), seed=3, stream=9, total=54,
                                           suffix="_wild{k:04d}")


def test_every_scenario_once_and_each_item_drawn_from_its_own_stream(clean, full):
    assert lhotse_wild.degrade_round_robin is rr.degrade_round_robin
    assert [c.id for c in full] == [f"c{k % 3}_wild{k:04d}" for k in range(54)]
    assert [c.custom["wild"]["scenario"] for c in full] == list(lhotse_wild.SCENARIOS)
    for k, c in enumerate(full):
        w = c.custom["wild"]
        assert (w["severity"], w["seed"]) == _expected(3, 9, k) and w["sampler"] == "linear"
        assert c.num_samples == clean[k % 3].num_samples and c.supervisions[0].text == f"say {k % 3}"
        assert Path(c.recording.sources[0].source).suffix == ".flac"
        assert c.recording.transforms is None  # the file holds the degraded audio


def test_items_are_reproducible_and_independent_of_total(clean, full, tmp_path):
    again = lhotse_wild.degrade_round_robin(clean, tmp_path, seed=3, stream=9, total=10, suffix="_wild{k:04d}")
    assert [c.id for c in again] == [c.id for c in full[:10]]
    assert [c.custom for c in again] == [c.custom for c in full[:10]]
    assert [_sha(c) for c in again] == [_sha(c) for c in full[:10]]
    other = lhotse_wild.degrade_round_robin(clean, tmp_path / "s", seed=3, stream=10, total=3, suffix="_wild{k:04d}")
    assert all(a.custom["wild"]["seed"] != b.custom["wild"]["seed"] for a, b in zip(other, full))


def test_stride_default_total_and_copy_suffix(clean, tmp_path):
    names = list(lhotse_wild.SCENARIOS)
    one = lhotse_wild.degrade_round_robin(clean, tmp_path, seed=0, stream=15, scenario_stride=7, suffix="_wild")
    assert [c.id for c in one] == ["c0_wild", "c1_wild", "c2_wild"]
    assert [c.custom["wild"]["scenario"] for c in one] == [names[0], names[7], names[14]]
    two = lhotse_wild.degrade_round_robin(clean, tmp_path, seed=0, stream=1, total=6)
    assert [c.id for c in two] == ["c0_w0", "c1_w0", "c2_w0", "c0_w1", "c1_w1", "c2_w1"]
    assert [c.custom["wild"]["scenario"] for c in two] == names[:6]


def test_journal_resume_writes_nothing_twice_and_matches_an_uninterrupted_run(clean, tmp_path, monkeypatch):
    kw = dict(seed=1, stream=2, total=12, suffix="_wild{k:04d}")
    ref = lhotse_wild.degrade_round_robin(clean, tmp_path / "a" / "audio", journal=tmp_path / "a" / "journal.jsonl",
                                          **kw)
    ref_lines = (tmp_path / "a" / "journal.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in ref_lines] == [c.id for c in ref]

    journal = tmp_path / "b" / "journal.jsonl"
    lhotse_wild.degrade_round_robin(clean, tmp_path / "b" / "audio", journal=journal, **{**kw, "total": 5})
    with journal.open("ab") as f:  # killed half-way through writing item 5's line
        f.write(ref_lines[5].encode()[:40])
    written = []
    real = rr.write_degraded
    monkeypatch.setattr(rr, "write_degraded", lambda new, *a, **k: written.append(new.id) or real(new, *a, **k))
    got = lhotse_wild.degrade_round_robin(clean, tmp_path / "b" / "audio", journal=journal, **kw)
    assert written == [c.id for c in ref[5:]]  # the first five are not degraded again
    lines = journal.read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == [c.id for c in ref]  # torn line gone, each id once
    assert [c.id for c in got] == [c.id for c in ref] and [c.custom for c in got] == [c.custom for c in ref]
    assert [_sha(c) for c in got] == [_sha(c) for c in ref]

    written.clear()
    assert [c.id for c in lhotse_wild.degrade_round_robin(clean, tmp_path / "b" / "audio", journal=journal, **kw)] \
        == [c.id for c in ref] and written == []
    with pytest.raises(InputError, match="fresh journal"):
        lhotse_wild.degrade_round_robin(clean, tmp_path / "b" / "audio", journal=journal, **{**kw, "seed": 2})


@pytest.mark.parametrize("args, match", [
    (dict(cuts=[]), "no cuts to degrade"),
    (dict(total=-1), "total must be a non-negative integer"),
    (dict(seed=-2), "seed must be a non-negative integer"),
    (dict(stream="a"), "stream must be a non-negative integer"),
    (dict(scenario_stride=0), "scenario_stride must be a positive integer"),
    (dict(total=4, suffix="_wild"), "duplicate cut ids .*'c0_wild'"),
    (dict(suffix="_{variant}"), "not a format string over {k} and {copy}"),
    (dict(audio_format="mp3"), "audio format must be one of"),
])
def test_bad_input_is_refused_before_anything_is_written(clean, tmp_path, args, match):
    kw = {"cuts": clean, "audio_dir": tmp_path / "out", "seed": 0, "stream": 0, **args}
    with pytest.raises(InputError, match=match):
        lhotse_wild.degrade_round_robin(kw.pop("cuts"), kw.pop("audio_dir"), **kw)
    assert not (tmp_path / "out").exists()


def test_total_zero_is_an_empty_corpus(clean, tmp_path):
    assert lhotse_wild.degrade_round_robin(clean, tmp_path / "out", seed=0, stream=0, total=0) == []
