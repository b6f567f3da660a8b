"""Manifest reading: formats, Qwen3-ASR outputs, and every kind of bad input (error or report+skip)."""

import json

import pytest

from nemo_wild_eval import InputError, score_manifest
from nemo_wild_eval.manifest import detect_format, get_path, read_manifests


def write_lines(path, lines):
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
    return path


def rec(**kw):
    return json.dumps(kw, ensure_ascii=False)


def test_detects_nemo_and_vitw_formats(tmp_path):
    nemo = write_lines(tmp_path / "n.jsonl", [rec(audio_filepath="a.wav", duration=1.0, text="a b", pred_text="a b")])
    vitw = write_lines(
        tmp_path / "v.jsonl",
        [rec(audio_path="x.wav", answer="Hello there.", prediction="hello there", subset="sim-en-noise")],
    )
    d = read_manifests([nemo, vitw])
    assert d.formats == {str(nemo): "nemo", str(vitw): "vitw"}
    assert d.refs == ["a b", "Hello there."] and d.hyps == ["a b", "hello there"]
    assert detect_format({"foo": 1}) is None


def test_speech_to_text_eval_output_is_read_as_nemo(tmp_path):
    # NeMo's speech_to_text_eval.py writes the manifest back with its per-utterance fields
    line = rec(audio_filepath="a.wav", text="the cat sat", pred_text="the cat sat down", wer=0.333, tokens=3,
               ins_rate=0.333, del_rate=0.0, sub_rate=0.0)
    r = score_manifest(write_lines(tmp_path / "e.jsonl", [line]), normalizer="basic")
    assert r.metrics["insertions"] == 1 and r.formats[str(tmp_path / "e.jsonl")] == "nemo"


def test_qwen3_asr_raw_outputs_are_parsed(tmp_path):
    p = write_lines(
        tmp_path / "q.jsonl",
        [
            rec(text="Hello world.", pred_text="language English<asr_text>Hello world."),
            rec(text="你好", pred_text="language Chinese<asr_text>你好</asr_text>"),
        ],
    )
    d = read_manifests(p)
    assert d.hyps == ["Hello world.", "你好"] and d.raw_hyps_changed == 2
    r = score_manifest(p, normalizer="auto")
    assert r.metrics["errors"] == 0
    rows = list(r.utterances())
    assert rows[0]["pred_text"] == "Hello world." and rows[0]["pred_text_raw"].startswith("language English")


def test_blank_lines_and_bom_are_not_data(tmp_path):
    p = write_lines(tmp_path / "b.jsonl", [b"\xef\xbb\xbf" + rec(text="a", pred_text="a").encode(), "", "  ",
                                           rec(text="b", pred_text="c")])
    d = read_manifests(p)
    assert d.refs == ["a", "b"] and d.lines == [1, 4]


BAD = [
    (b'{"text": "a", "pred_text": ', "malformed JSON"),
    (rec(pred_text="a"), "missing reference 'text'"),
    (rec(text="a"), "missing hypothesis 'pred_text'"),
    (rec(text="a", pred_text=None), "hypothesis 'pred_text' is null"),
    (rec(text=3, pred_text="a"), "reference 'text' is a int, not a string"),
    (rec(text="   ", pred_text="a"), "empty reference 'text'"),
    (rec(text="", pred_text="a"), "empty reference 'text'"),
    (b'["text", "pred_text"]', "expected a JSON object, got list"),
    ('{"text": "caf\xe9", "pred_text": "x"}'.encode("latin-1"), "not valid UTF-8"),
]


@pytest.mark.parametrize("line,why", BAD, ids=[b[1] for b in BAD])
def test_bad_line_names_file_and_line(tmp_path, line, why):
    p = write_lines(tmp_path / "bad.jsonl", [rec(text="ok", pred_text="ok"), line, rec(text="ok", pred_text="ok")])
    with pytest.raises(InputError) as e:
        score_manifest(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:2: ") and why in msg and "--skip-bad" in msg
    assert e.value.line == 2 and e.value.source == str(p)


def test_skip_bad_reports_every_skipped_line(tmp_path):
    lines = [rec(text="a b", pred_text="a b")] + [b[0] for b in BAD] + [rec(text="c d", pred_text="c x")]
    p = write_lines(tmp_path / "mixed.jsonl", lines)
    r = score_manifest(p, normalizer="basic", skip_bad=True)
    assert r.metrics["utterances"] == 2 and r.metrics["substitutions"] == 1
    assert [b.line for b in r.skipped] == list(range(2, 2 + len(BAD)))
    d = r.to_dict()
    assert d["skipped_lines"] == len(BAD) and d["empty_references_skipped"] == 2
    assert all(s["source"] == str(p) for s in d["skipped"])


def test_unknown_format_and_missing_file(tmp_path):
    p = write_lines(tmp_path / "u.jsonl", [rec(ref="a", hyp="b")])
    with pytest.raises(InputError, match="cannot tell the manifest format"):
        score_manifest(p)
    r = score_manifest(p, ref_key="ref", hyp_key="hyp", normalizer="basic")
    assert r.metrics["substitutions"] == 1 and r.formats[str(p)] == "custom"
    with pytest.raises(InputError, match="no such manifest file"):
        score_manifest(tmp_path / "nope.jsonl")


def test_in_memory_records_and_nested_keys():
    recs = [{"text": "a b", "pred_text": "a", "wild": {"severity": 0.5, "scenario": "noise"}}]
    r = score_manifest(recs, normalizer="basic", by=["wild.scenario"])
    assert r.sources == ["<records>"] and r.breakdowns["wild.scenario"]["noise"]["deletions"] == 1
    assert get_path(recs[0], "wild.severity") == 0.5 and get_path(recs[0], "wild.x") is None
    with pytest.raises(InputError, match="<records>:1: "):
        score_manifest([{"text": "", "pred_text": "x"}])


def test_nemo_skills_output_is_detected(tmp_path):
    p = write_lines(tmp_path / "output.jsonl", [
        rec(expected_answer="Turn it off.", generation="language English<asr_text>turn it of", subset="sim-en-noise"),
        rec(expected_answer="Yes.", generation="yes", num_generated_tokens=3),
    ])
    r = score_manifest(p, normalizer="basic")
    assert r.formats[str(p)] == "skills" and r.metrics["substitutions"] == 1 and r.metrics["utterances"] == 2
    assert d_hyps(p) == ["turn it of", "yes"]


def d_hyps(p):
    return read_manifests(p).hyps


@pytest.mark.parametrize("content", [b'[\n  {"text": "a", "pred_text": "a"}\n]\n', b'[{"text": "a", "pred_text": "a"}]\n'])
def test_json_array_file_gets_a_conversion_hint(tmp_path, content):
    p = tmp_path / "array.json"
    p.write_bytes(content)
    with pytest.raises(InputError, match=r"array\.json:1: .*one JSON array, not JSON Lines"):
        score_manifest(p)
