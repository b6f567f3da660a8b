"""Score with the Python API (what the demo does), then reuse the plot helper on your own numbers.

    python examples/eval/score_api.py [OUT_DIR]
"""

import sys
from pathlib import Path

from nemo_wild_eval import plot_wer_by_condition, score_manifest, write_report

here = Path(__file__).resolve().parent
out = Path(sys.argv[1] if len(sys.argv) > 1 else "out/eval_example")

# Voices-in-the-Wild-Bench file: preset vitw is picked from the format (real/sim x category,
# WER vs global_severity, Qwen3-ASR raw outputs parsed, zh utterances scored per character).
vitw = score_manifest(here / "vitw_sample.jsonl")
paths = write_report(vitw, out / "vitw")
print(f"VITW  {vitw.normalizer_version}: MER {100 * vitw.wer:.2f} %  -> {paths['report']}")
for category, m in vitw.breakdowns["category"].items():
    print(f"  {category:<11s} {100 * m['wer']:6.2f} %  halluc {100 * m['hallucination_rate']:5.1f} %  n={m['utterances']}")

# A NeMo manifest of CHiME-4 output: the preset recovers real/simu and the environment from the paths.
chime = score_manifest(here / "chime4_sample.json", preset="chime4")
write_report(chime, out / "chime4")
print(f"CHiME-4 WER {100 * chime.wer:.2f} %; by set: "
      + ", ".join(f"{k} {100 * v['wer']:.1f} %" for k, v in chime.breakdowns["set"].items()))

# The plot helper takes plain {condition: {"wer": ...}} dicts, e.g. two systems side by side.
both = {f"{s}|{k}": v for s, r in (("base", chime), ("robust", chime)) for k, v in r.breakdowns["env"].items()}
print("plot:", plot_wer_by_condition(both, out / "compare.png", key="system x env"))
