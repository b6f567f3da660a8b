"""Reports (metrics.json, report.md, scored manifest, PNGs) and the `wildasr score` command."""

import json
import subprocess
import sys

import pytest

from nemo_wild_eval import plot_wer_by_condition, score_manifest, write_report
from wildasr.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def chime_manifest(tmp_path):
    rows = []
    for k, (env, kind) in enumerate([("bus", "real"), ("caf", "simu"), ("ped", "real"), ("str", "simu")] * 3):
        rows.append({
            "audio_filepath": f"/data/chime4/et05_{env}_{kind}/F05_440C02{k:02d}_{env.upper()}.wav",
            "duration": 2.0,
            "text": "THE COMPANY SAID IT EXPECTS RESULTS",
            "pred_text": "the company said it expects results" if k % 2 else "the company says it expect results",
        })
    path = tmp_path / "chime4.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_write_report_outputs(tmp_path, chime_manifest):
    r = score_manifest(chime_manifest, preset="chime4")
    paths = write_report(r, tmp_path / "out")
    assert {"metrics", "report", "manifest", "wer_by:set", "wer_by:env", "wer_by:set+env"} <= set(paths)
    m = json.loads(paths["metrics"].read_text())
    for key in ("wer", "substitutions", "insertions", "deletions", "ref_words", "utterances"):
        assert key in m
    assert m["normalizer"] == "whisper_en" and m["normalizer_version"] == "whisper_en-1"
    assert m["preset"] == "chime4" and set(m["breakdowns"]["set"]) == {"real", "simu"}
    assert m["breakdowns"]["set+env"]["real|bus"]["utterances"] == 3
    md = paths["report"].read_text()
    assert "| real × bus |" in md and "## WER by set" in md and "![WER by env](wer_by_env.png)" in md
    rows = [json.loads(x) for x in paths["manifest"].read_text().splitlines()]
    assert len(rows) == 12 and {"wer", "tokens", "ins_rate", "del_rate", "sub_rate", "set", "env"} <= set(rows[0])
    for key, p in paths.items():
        if key.startswith("wer_by"):
            assert p.read_bytes().startswith(PNG)


def test_plot_helper_is_reusable_on_plain_dicts(tmp_path):
    p = plot_wer_by_condition({"clean": {"wer": 0.05, "utterances": 10}, "noisy": {"wer": None, "utterances": 0}},
                              tmp_path / "x.png", key="condition")
    assert p.read_bytes().startswith(PNG)
    g = plot_wer_by_condition({"a|x": {"wer": 0.1}, "b|x": {"wer": 0.2}, "a|y": {"wer": 0.3}}, tmp_path / "g.png")
    assert g.read_bytes().startswith(PNG)


def test_cli_scores_and_summarises(tmp_path, chime_manifest, capsys):
    out = tmp_path / "o"
    rc = main(["score", str(chime_manifest), "--preset", "chime4", "--by", "env", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "WER" in text and "by env:" in text and "report:" in text
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["breakdowns"]) == ["env"]  # --by replaces the preset's keys


def test_cli_bad_input_exit_2_and_skip_bad(tmp_path, capsys):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b'{"text": "a b", "pred_text": "a b"}\n{"text": "a b"\n{"text": "", "pred_text": "x"}\n')
    assert main(["score", str(p), "--out", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err
    assert f"{p}:2: malformed JSON" in err
    assert main(["score", str(p), "--out", str(tmp_path / "o2"), "--skip-bad", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"skipped {p}:2: malformed JSON" in err and f"skipped {p}:3: empty reference" in err
    m = json.loads((tmp_path / "o2" / "metrics.json").read_text())
    assert m["skipped_lines"] == 2 and m["utterances"] == 1
    assert "## Skipped lines (2)" in (tmp_path / "o2" / "report.md").read_text()


def test_cli_nothing_scorable_is_exit_2(tmp_path, capsys):
    p = tmp_path / "empty.jsonl"
    p.write_text('{"text": "", "pred_text": "x"}\n')
    assert main(["score", str(p), "--out", str(tmp_path / "o"), "--skip-bad", "--quiet"]) == 2
    assert "no utterance could be scored" in capsys.readouterr().err


def test_cli_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["score", "x.jsonl"])  # --out missing
    assert e.value.code == 2
    assert main(["score", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "no such manifest file" in capsys.readouterr().err


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "wildasr.cli", "score", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--nemo-model" in out.stdout and "--skip-bad" in out.stdout


def test_cli_out_is_a_file_is_exit_2(tmp_path, chime_manifest, capsys):
    target = tmp_path / "taken"
    target.write_text("x")
    assert main(["score", str(chime_manifest), "--out", str(target), "--quiet"]) == 2
    assert f"{target}: --out must be a folder" in capsys.readouterr().err


def test_help_lists_exit_codes_and_formats():
    out = subprocess.run([sys.executable, "-m", "wildasr.cli", "score", "--help"], capture_output=True, text=True)
    assert "exit codes: 0 scored; 1 the job failed" in out.stdout and "skills" in out.stdout


def test_cli_warns_about_breakdown_keys_no_record_has(tmp_path, chime_manifest, capsys):
    assert main(["score", str(chime_manifest), "--by", "env", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert "warning: breakdown keys in no record, skipped: env" in capsys.readouterr().err  # env needs --preset chime4
