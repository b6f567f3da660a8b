"""The NeMo-Skills metrics class, driven the way NeMo-Skills' ComputeMetrics drives it."""

import importlib
import importlib.util
from pathlib import Path

import pytest

from nemo_wild_eval.nemo_skills import WildASRMetrics

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT / "examples" / "eval" / "nemo_skills_dataset" / "wild_asr" / "__init__.py"


def resolve(metric_type: str, **kwargs):
    """NeMo-Skills' own rule for a ``module::Class`` METRICS_TYPE (map_metrics.get_metrics)."""
    module, cls = metric_type.split("::", 1)
    return getattr(importlib.import_module(module), cls)(**kwargs)


def load_dataset_module():
    spec = importlib.util.spec_from_file_location("wild_asr_dataset", DATASET)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_extra_dataset_points_metrics_type_at_our_class():
    mod = load_dataset_module()
    calc = resolve(mod.METRICS_TYPE, **{"normalizer": "basic", "by": ["category"]})  # --metrics_kwargs
    assert isinstance(calc, WildASRMetrics) and calc.normalizer == "basic" and calc.by == ["category"]
    zh = resolve("nemo_wild_eval.nemo_skills::WildASRZhMetrics")
    zh.update([{"expected_answer": "今天天气很好", "generation": "今天天汽很好"}])
    assert zh.get_metrics()["pass@1"]["wer"] == pytest.approx(100 / 6)


def test_single_generation_metrics():
    calc = WildASRMetrics(normalizer="basic", by=["category"])
    calc.reset()
    calc.setup(["output.jsonl"])
    calc.update([{"expected_answer": "turn the lights off", "generation": "turn the light off",
                  "category": "noise", "num_generated_tokens": 6}])
    calc.update([{"expected_answer": "call my mother", "generation": "language English<asr_text>call my mother",
                  "category": "echo", "num_generated_tokens": 5}])
    calc.update([{"expected_answer": "yes please", "generation": "", "category": "echo", "num_generated_tokens": 0}])
    m = calc.get_metrics()
    assert list(m) == ["pass@1"] and calc.evaluations_to_print() == ["pass@1"]
    p = m["pass@1"]
    assert p["num_entries"] == 3 and p["ref_words"] == 9 and p["substitutions"] == 1 and p["deletions"] == 2
    assert p["wer"] == pytest.approx(100 * 3 / 9)  # NeMo-Skills reports percentages
    assert p["omission_rate"] == pytest.approx(100 / 3) and p["avg_tokens"] == 3
    assert p["wer[category=echo]"] == pytest.approx(100 * 2 / 5)
    fmt = calc.metrics_to_print()
    assert fmt["wer"](p["wer"]) == "33.33%" and fmt["num_entries"](3) == "3"
    calc.reset()
    assert calc.get_metrics() == {} and calc.total == 0


def test_k_generations_average_and_oracle():
    calc = WildASRMetrics(normalizer="basic")
    calc.update([{"expected_answer": "a b c d", "generation": g} for g in ("a b c d", "a x c d")])
    calc.update([{"expected_answer": "e f", "generation": g} for g in ("x y", "e f")])
    m = calc.get_metrics()
    assert calc.evaluations_to_print() == ["pass@1[avg-of-2]", "pass@2"]
    assert m["pass@1"]["wer"] == pytest.approx(100 * 2 / 6)
    assert m["pass@1[avg-of-2]"]["wer"] == pytest.approx(100 * (2 / 6 + 1 / 6) / 2)
    assert m["pass@2"]["wer"] == 0.0
    with pytest.raises(ValueError, match="expected 2 predictions"):
        calc.update([{"expected_answer": "x", "generation": "x"}])


def test_incorrect_sample_is_an_omission_and_missing_reference_is_named():
    calc = WildASRMetrics(normalizer="basic")
    bad = calc.get_incorrect_sample({"expected_answer": "hello there", "generation": "hello there"})
    calc.update([bad])
    assert calc.get_metrics()["pass@1"]["omission_rate"] == 100.0
    with pytest.raises(ValueError, match="no reference"):
        calc.update([{"generation": "x"}])


def test_nemo_skills_resolves_it_itself():
    ns = pytest.importorskip("nemo_skills.evaluation.metrics.map_metrics", reason="nemo-skills not installed")
    calc = ns.get_metrics("nemo_wild_eval.nemo_skills::WildASRMetrics", normalizer="basic")
    assert isinstance(calc, WildASRMetrics)
