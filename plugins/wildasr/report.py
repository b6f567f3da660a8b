"""Assemble the demo report (Markdown + HTML) from the demo's ``metrics.json`` dict.

Only files that exist are linked (a stage that did not run leaves no dangling link); the HTML is the
same Markdown rendered with markdown-it (a dependency of ``rich``) plus a small stylesheet.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = ["render_demo_markdown", "write_demo_report", "summary_lines", "markdown_to_html"]

STAGE_TITLES = {
    "corpus": "1. clean speech (Piper TTS)",
    "wild": "2. wild corpus (lhotse_wild, 54 scenarios)",
    "asr": "3. base ASR + WER split (pocketsphinx, lhotse_wild.split)",
    "scores": "4. scores (nemo_wild_eval)",
    "rewards": "5. rewards on n-best groups (verl_dgwgpo)",
    "router": "6. router (verl_dgwgpo.router)",
}


def _pct(x: Any, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100.0 * float(x):.{digits}f} %"


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return str(x)
    return f"{float(x):.{digits}f}"


class _Doc:
    def __init__(self, out: Path):
        self.out = out
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def exists(self, rel: str | None) -> bool:
        return bool(rel) and (self.out / rel).is_file()

    def link(self, rel: str | None, text: str | None = None) -> str:
        if not self.exists(rel):
            return f"{text or rel or '?'} (not written)"
        return f"[{text or rel}]({rel})"

    def image(self, rel: str | None, alt: str) -> None:
        if self.exists(rel):
            self.add(f"![{alt}]({rel})", "")

    def table(self, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
        header = list(header)
        self.add("| " + " | ".join(header) + " |")
        self.add("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        for r in rows:
            self.add("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
        self.add("")


def _stage(metrics: Mapping[str, Any], name: str) -> dict:
    return metrics.get("stages", {}).get(name) or {}


def render_demo_markdown(metrics: Mapping[str, Any], out: str | os.PathLike) -> str:
    """The report as Markdown; every link points at a file under ``out`` that exists."""
    d = _Doc(Path(out))
    cfg = metrics.get("config", {})
    corpus, wild, asr = _stage(metrics, "corpus"), _stage(metrics, "wild"), _stage(metrics, "asr")
    scores, rewards, router = _stage(metrics, "scores"), _stage(metrics, "rewards"), _stage(metrics, "router")
    missing: Mapping[str, list[str]] = metrics.get("missing", {})
    timings = metrics.get("timings_s", {})

    d.add("# wild-asr demo report", "")
    d.add(
        "The whole recipe on this machine with no download: synthetic speech (Piper TTS), the 54-scenario "
        "compound-degradation simulator, a real base ASR (pocketsphinx) with its WER split, the scorer's "
        "tables and plots, rewards on real n-best rollout groups, and the clean/degraded router. "
        "Every number below is computed by the project's library code from the files listed at the end.",
        "",
    )
    d.add(f"- generated: {_dt.datetime.now().isoformat(timespec='seconds')}; seed {cfg.get('seed')}; "
          f"{'`--small`' if cfg.get('small') else 'default size'}: {cfg.get('num_utterances')} clean utterances, "
          f"{cfg.get('per_scenario')} wild cut(s) per scenario, n-best {cfg.get('nbest')}, workers {cfg.get('workers')}",
          "")

    # ---------------------------------------------------------------- summary
    d.add("## Summary", "")
    rows: list[tuple[str, str]] = []
    if corpus:
        rows.append(("clean speech", f"{corpus.get('utterances')} utterances, {_num(corpus.get('audio_seconds'), 0)} s, "
                                     f"{len(corpus.get('styles', {}))} voice styles ({corpus.get('engine')}: {corpus.get('voice')})"))
    if wild.get("cuts"):
        rows.append(("wild corpus", f"{wild['cuts']} degraded cuts, {wild.get('scenarios_present')}/"
                                    f"{wild.get('scenarios_total')} scenarios, {wild.get('sampler')} severity"))
    if asr:
        rows.append(("base ASR", f"`{asr.get('asr')}` (in-domain LM from the sentence list)"))
    by_cond = scores.get("by_condition", {})
    clean_wer = by_cond.get("clean", {}).get("wer", asr.get("clean_wer"))
    wild_wer = by_cond.get("wild", {}).get("wer", asr.get("wild_wer"))
    rows.append(("WER clean → wild", f"**{_pct(clean_wer)} → {_pct(wild_wer)}**"))
    hard = scores.get("hardest_scenarios") or []
    if hard:
        rows.append(("hardest scenarios", ", ".join(f"`{h['scenario']}` {_pct(h['wer'], 0)}" for h in hard[:3])))
    split = asr.get("split")
    if split:
        rows.append(("WER split (wild)", f"kept {split['kept']}, dropped {split['dropped']} (> "
                                         f"{split['params']['max_wer']:.0%}), RL split {split['rl']}"))
    if rewards.get("status") == "ok":
        for line in rewards.get("headline", []):
            rows.append(("rewards", line))
    else:
        rows.append(("rewards", "not run yet: the reward library has not landed (see *Missing*)"))
    if router.get("status") == "ok":
        rows.append(("router", f"held-out accuracy **{_pct(router.get('accuracy'))}** "
                               f"(clean {_pct(router.get('clean_accuracy'))}, degraded {_pct(router.get('wild_accuracy'))})"))
    else:
        rows.append(("router", "not run yet: the router has not landed (see *Missing*)"))
    total = sum(v for k, v in timings.items() if k in STAGE_TITLES)
    rows.append(("wall time", f"{total:.0f} s over the stages ({', '.join(f'{k} {v:.0f} s' for k, v in timings.items() if k in STAGE_TITLES)})"))
    cpu = {k: v for k, v in metrics.get("cpu_s", {}).items() if k in STAGE_TITLES and v is not None}
    if cpu:
        rows.append(("CPU time (user + sys, all processes)",
                     f"{sum(cpu.values()):.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in cpu.items())})"))
    d.table(["", "value"], rows)

    if missing:
        d.add("## Missing", "", "Steps whose library code has not landed run as far as possible; what is missing:", "")
        for stage, whats in missing.items():
            for w in whats:
                d.add(f"- **{STAGE_TITLES.get(stage, stage)}**: {w}")
        d.add("")

    # ---------------------------------------------------------------- 1. corpus
    d.add("## 1. Clean speech", "")
    if corpus:
        d.add(f"{corpus['utterances']} utterances synthesised by {corpus['engine']} (`{corpus['voice']}`, one "
              "speaker shipped in a pip package, 22.05 kHz → 16 kHz by exact 320/441 polyphase resampling) from "
              f"the {corpus['sentences_available']} public-domain sentences in `{Path(corpus['sentence_file']).name}`. "
              "The package ships one voice, so the five *styles* vary speaking rate (Piper `length_scale`), "
              "prosody noise (`noise_scale`, `noise_w_scale`) and pitch/formants (rate reinterpretation).", "")
        by_voice = scores.get("by_voice", {})
        d.table(["style", "utterances", "seconds", "length_scale", "noise_scale", "noise_w", "pitch (semitones)", "WER (clean+wild)"],
                [(k, v["utterances"], _num(v["seconds"], 0), v.get("length_scale"), v.get("noise_scale"),
                  v.get("noise_w_scale"), v.get("pitch_semitones"), _pct(by_voice.get(k, {}).get("wer")))
                 for k, v in corpus.get("styles", {}).items()])
        d.add(f"Clean CutSet: {d.link(corpus.get('manifest'))}", "")

    # ---------------------------------------------------------------- 2. wild
    d.add("## 2. Wild corpus", "")
    if wild.get("cuts"):
        sev = wild["severity"]
        d.add(f"{wild['cuts']} degraded cuts: scenario `k mod 54` for wild cut `k` (so all "
              f"{wild['scenarios_present']}/{wild['scenarios_total']} scenarios are present), one severity per cut "
              f"from the `{wild['sampler']}` sampler (min {sev['min']:.2f}, mean {sev['mean']:.2f}, max {sev['max']:.2f}), "
              f"every drawn parameter in `custom[\"wild\"]` (params version `{wild.get('params_version')}`).", "")
        d.table(["effects compounded", "cuts"], sorted(wild.get("by_num_effects", {}).items()))
        d.add(f"Degraded CutSet: {d.link(wild.get('manifest'))}", "")
    else:
        d.add("Not built (see *Missing*).", "")

    # ---------------------------------------------------------------- 3. asr + split
    d.add("## 3. Base ASR and the WER split", "")
    if asr:
        d.add(f"`{asr['asr']}`: pocketsphinx's shipped US-English acoustic model and dictionary with a trigram LM "
              f"built in-process (`pocketsphinx.lm.ArpaBoLM`) from the sentence list; audio fed as 16 kHz int16 PCM. "
              f"WER uses the `{asr['normalizer']}` normaliser of `nemo_wild_eval.text` (the scorer's and the reward's). "
              f"Clean WER {_pct(asr.get('clean_wer'))}, wild WER {_pct(asr.get('wild_wer'))}.", "")
        if asr.get("split_table"):
            d.add("Split of the wild corpus by base WER (`lhotse_wild.split.split_by_wer`; curriculum buckets are "
                  "cumulative, regimes disjoint; the RL split takes every medium/high cut plus sampled low ones):", "")
            d.add(asr["split_table"], "")
            files = asr.get("split_files", {})
            d.add("Split files: " + ", ".join(d.link(v, k) for k, v in files.items()), "")
        d.add(f"Scored CutSets: {d.link(asr.get('clean_manifest'))}, {d.link(asr.get('wild_manifest'))}; "
              f"NeMo manifest {d.link(asr.get('nemo_manifest'))}; n-best groups {d.link(asr.get('nbest_groups'))}.", "")

    # ---------------------------------------------------------------- 4. scores
    d.add("## 4. Scores", "")
    if scores.get("by_condition"):
        plots = scores.get("plots", {})
        metric_header = ["utterances", "WER", "sub", "ins", "del", "hallucination", "omission"]

        def mrow(label: str, m: Mapping[str, Any]) -> list[str]:
            return [label, m.get("utterances"), _pct(m.get("wer")), _pct(m.get("sub_rate")), _pct(m.get("ins_rate")),
                    _pct(m.get("del_rate")), _pct(m.get("hallucination_rate")), _pct(m.get("omission_rate"))]

        d.add("### Clean vs wild", "")
        d.table(["condition"] + metric_header, [mrow(k, v) for k, v in scores["by_condition"].items()])
        d.image(plots.get("wer_by:condition"), "WER by condition")
        d.add("### By number of compounded effects", "")
        d.table(["effects"] + metric_header, [mrow(k, v) for k, v in scores.get("by_num_effects", {}).items()])
        d.image(plots.get("wer_by:num_effects"), "WER by number of effects")
        if scores.get("by_effect"):
            d.add("### By effect", "", "Each wild utterance counts once for every effect its scenario contains.", "")
            d.table(["effect"] + metric_header, [mrow(k, v) for k, v in scores["by_effect"].items()])
            d.image(plots.get("wer_by:effect"), "WER by effect")
        if scores.get("severity"):
            d.add("### Against severity", "")
            d.table(["severity bin"] + metric_header, [mrow(b["label"], b) for b in scores["severity"]])
            d.image(plots.get("wer_vs_severity"), "WER vs severity")
        d.add("### Hallucination and omission", "")
        d.add("Flags from `nemo_wild_eval` (insertion-heavy / runaway / repetition outputs; empty output / large "
              "deletions), as a share of utterances.", "")
        d.image(plots.get("hallucination_omission"), "hallucination and omission")
        d.add("### By scenario", "")
        d.table(["hardest scenarios"] + metric_header, [mrow(h["scenario"], h) for h in scores.get("hardest_scenarios", [])])
        d.table(["easiest scenarios"] + metric_header, [mrow(h["scenario"], h) for h in scores.get("easiest_scenarios", [])])
        d.image(plots.get("wer_by:scenario"), "WER by scenario")
        every = sorted(((k, v) for k, v in scores.get("by_scenario", {}).items() if k != "clean"),
                       key=lambda kv: (-(kv[1].get("wer") or 0.0), kv[0]))
        if every:
            d.add(f"All {len(every)} scenarios, hardest first:", "")
            d.table(["scenario"] + metric_header, [mrow(k, v) for k, v in every])
        d.add(f"All 54 scenarios: {d.link(scores.get('report'), 'scorer report')}, "
              f"{d.link(scores.get('metrics'), 'scorer metrics.json')}, {d.link(scores.get('manifest'), 'scored manifest')}.", "")
    else:
        d.add("Not scored (see *Missing*).", "")

    # ---------------------------------------------------------------- 5. rewards
    d.add("## 5. Rewards on real rollout groups", "")
    d.add(f"Each cut's pocketsphinx n-best list (up to {cfg.get('nbest')} distinct hypotheses, 1-best first) is one "
          f"rollout group: {rewards.get('groups', 0)} groups, mean size {_num(rewards.get('group_size', {}).get('mean'), 2)}, "
          f"{rewards.get('groups_with_2plus_distinct', 0)} with ≥ 2 distinct hypotheses. Regime = the mean WER of the "
          "group's hypotheses (`verl_dgwgpo.group_stats.group_dispersion`, the statistic the training hook logs).", "")
    if rewards.get("status") == "ok":
        for block in rewards.get("tables", []):
            d.add(block["title"], "")
            d.table(block["header"], block["rows"])
        for key, alt in rewards.get("plots", {}).items():
            d.image(alt, key)
        if rewards.get("notes"):
            d.add(*[f"- {n}" for n in rewards["notes"]], "")
        if rewards.get("file"):
            d.add(f"Per-hypothesis rewards: {d.link(rewards['file'])}", "")
    else:
        d.add("Not run: " + "; ".join(missing.get("rewards", ["the reward library is missing"])), "")

    # ---------------------------------------------------------------- 6. router
    d.add("## 6. Router", "")
    if router.get("status") == "ok":
        for block in router.get("tables", []):
            d.add(block["title"], "")
            d.table(block["header"], block["rows"])
        for n in router.get("notes", []):
            d.add(f"- {n}")
        d.add("")
        for key, rel in router.get("plots", {}).items():
            d.image(rel, f"router {key}")
    else:
        d.add("Not run: " + "; ".join(missing.get("router", ["the router is missing"])), "")

    # ---------------------------------------------------------------- 7. training
    _training_section(d, _stage(metrics, "train"), missing)

    # ---------------------------------------------------------------- files
    d.add("## Files", "")
    files = [("this report (HTML)", "report.html"), ("all numbers", "metrics.json")]
    files += [("clean CutSet", corpus.get("manifest")), ("wild CutSet", wild.get("manifest")),
              ("scored clean CutSet", asr.get("clean_manifest")), ("scored wild CutSet", asr.get("wild_manifest")),
              ("NeMo manifest (text, pred_text, metadata)", asr.get("nemo_manifest")),
              ("n-best rollout groups", asr.get("nbest_groups")), ("scorer report", scores.get("report")),
              ("scorer metrics", scores.get("metrics")), ("scored manifest", scores.get("manifest"))]
    files += [(f"plot: {k}", v) for k, v in scores.get("plots", {}).items()]
    files += [(f"split: {k}", v) for k, v in asr.get("split_files", {}).items()]
    files += [(f"rewards: {k}", v) for k, v in rewards.get("files", {}).items()]
    files += [(f"router: {k}", v) for k, v in router.get("files", {}).items()]
    files += [(f"training: {k}", v) for k, v in _stage(metrics, "train").get("files", {}).items()]
    for label, rel in files:
        if rel and (rel in ("report.html", "metrics.json") or d.exists(rel)):
            d.add(f"- {label}: [{rel}]({rel})")
    d.add("")
    return "\n".join(d.lines)


_TRAIN_NAMES = {"base": "base (trained from scratch, clean speech)", "a2s_sft": "A2S-SFT (phase 3)",
                "dapo_wer": "DAPO, reward 1 − WER", "dapo_dgwgpo": "DAPO, reward DG-WGPO",
                "routed": "router: base if clean, DG-WGPO if degraded"}


def _training_section(d: _Doc, train: Mapping[str, Any], missing: Mapping[str, list[str]]) -> None:
    d.add("## 7. Training: the recipe in miniature", "")
    if train.get("status") != "ok":
        why = train.get("why") or "; ".join(missing.get("train", ["not run"]))
        d.add(f"Not run: {why}. `wildasr demo --training quick` (about 9 min) runs it.", "")
        return
    sizes, corpus, split = train.get("plan_sizes", {}), train.get("corpus", {}), train.get("split", {})
    d.add("pocketsphinx cannot be fine-tuned and no audio LLM can be downloaded here, so this stage trains a "
          f"{_num((train.get('base_parameters') or 0) / 1e6, 1)} M-parameter native Qwen3-ASR from scratch on a "
          f"{corpus.get('vocabulary')}-word grammar ({corpus.get('train')} train / {corpus.get('heldout')} held-out "
          "Piper sentences), degrades it with the 54 scenarios, splits it by this model's own base WER "
          f"(kept {split.get('kept')}, dropped {split.get('dropped')}, RL {split.get('rl')}), trains A2S-SFT phases "
          f"1-3 (`wildasr sft`, {sizes.get('sft_steps')} steps each), then DAPO in verl's own trainer "
          f"(`wildasr rl`, {sizes.get('rl_steps')} steps, seed(s) {', '.join(map(str, sizes.get('rl_seeds') or []))}) "
          "once with 1 − WER and once "
          "with DG-WGPO from the same start. Plan `" + str(train.get("plan")) + "`; every number is held-out WER "
          "(`nemo_wild_eval`). A toy model: this shows the recipe's mechanics run end to end, not the size of "
          "its gains on a real checkpoint; with one seed and a few RL steps, differences of a few points "
          "between the two rewards are noise. The README's measured table is the `full` plan (3 seeds per "
          "reward, 12 RL steps; `--training full`, about 40 min).", "")
    rows = []
    for r in train.get("rows", []):
        std_c, std_w = r.get("wer_clean_std"), r.get("wer_wild_std")
        rows.append([_TRAIN_NAMES.get(r["name"], r["name"]),
                     _pct(r.get("wer_clean")) + (f" ± {_pct(std_c)}" if std_c else ""),
                     _pct(r.get("wer_wild")) + (f" ± {_pct(std_w)}" if std_w else ""),
                     _num(r.get("stage_seconds"), 0)])
    d.table(["stage", "WER clean", "WER wild", "stage time (s)"], rows)
    phases = train.get("sft_phases", {})
    if phases:
        d.add("A2S-SFT by phase (clean / wild): " + ", ".join(
            f"phase {p}: {_pct(v.get('wer_clean'))} / {_pct(v.get('wer_wild'))}" for p, v in phases.items()), "")
    for alt, rel in train.get("plots", {}).items():
        d.image(rel, alt)
    d.add(f"Full report of this stage: {d.link(train.get('files', {}).get('report'))} "
          f"({_num(train.get('total_seconds'), 0)} s).", "")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
line-height:1.45;color:#222}
table{border-collapse:collapse;margin:0.6em 0}th,td{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}td{text-align:right}td:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}code{background:#f5f5f5;padding:0 3px}
h1,h2,h3{border-bottom:1px solid #eee;padding-bottom:2px}
"""


def markdown_to_html(markdown: str, title: str = "wild-asr demo report") -> str:
    """Render Markdown (with tables) to a standalone HTML page."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n{body}</body></html>\n")


def write_demo_report(metrics: Mapping[str, Any], out: str | os.PathLike) -> dict[str, Path]:
    """Write ``out/report.md`` and ``out/report.html``; returns their paths."""
    out = Path(out)
    md = render_demo_markdown(metrics, out)
    paths = {"markdown": out / "report.md", "html": out / "report.html"}
    for key, text in (("markdown", md), ("html", markdown_to_html(md))):
        tmp = paths[key].with_name(f".tmp-{paths[key].name}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, paths[key])
    return paths


def summary_lines(metrics: Mapping[str, Any]) -> list[str]:
    """The few lines printed at the end of ``wildasr demo``."""
    asr, scores = _stage(metrics, "asr"), _stage(metrics, "scores")
    wild, rewards, router = _stage(metrics, "wild"), _stage(metrics, "rewards"), _stage(metrics, "router")
    by_cond = scores.get("by_condition", {})
    lines = ["wildasr demo: summary"]
    lines.append(f"  WER clean {_pct(by_cond.get('clean', {}).get('wer', asr.get('clean_wer')))}"
                 f" -> wild {_pct(by_cond.get('wild', {}).get('wer', asr.get('wild_wer')))}"
                 f" ({wild.get('cuts', 0)} wild cuts, {wild.get('scenarios_present', 0)}/54 scenarios)")
    hard = scores.get("hardest_scenarios") or []
    if hard:
        lines.append("  hardest: " + ", ".join(f"{h['scenario']} {_pct(h['wer'], 0)}" for h in hard[:3]))
    if asr.get("split"):
        s = asr["split"]
        lines.append(f"  split: kept {s['kept']}, dropped {s['dropped']}, RL {s['rl']}, curriculum "
                     + "/".join(str(v) for v in s["curriculum"].values()))
    if rewards.get("status") == "ok":
        lines += [f"  rewards: {h}" for h in rewards.get("headline", [])]
    if router.get("status") == "ok":
        lines.append(f"  router held-out accuracy {_pct(router.get('accuracy'))}")
    train = _stage(metrics, "train")
    if train.get("status") == "ok":
        by = {r["name"]: r for r in train.get("rows", [])}
        lines.append("  training (miniature, wild WER): " + ", ".join(
            f"{n} {_pct(by[n].get('wer_wild'))}" for n in ("base", "a2s_sft", "dapo_wer", "dapo_dgwgpo") if n in by))
    for stage, whats in metrics.get("missing", {}).items():
        for w in whats:
            lines.append(f"  missing ({stage}): {w}")
    rep = metrics.get("report", {})
    t = metrics.get("timings_s", {}).get("total_this_run")
    lines.append(f"  report: {metrics.get('config', {}).get('out')}/{rep.get('markdown', 'report.md')} "
                 f"(+ report.html, metrics.json); this run {t:.0f} s" if t is not None else "")
    return [ln for ln in lines if ln]
