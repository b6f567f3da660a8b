"""A NeMo-Skills metrics class backed by this scorer.

NeMo-Skills resolves a dataset's ``METRICS_TYPE`` either from its own map or, for a string
``module::Class``, by importing the module. An extra-dataset folder (``--extra_datasets``) therefore
only needs, in its ``__init__.py``::

    METRICS_TYPE = "nemo_wild_eval.nemo_skills::WildASRMetrics"

(see examples/eval/nemo_skills_dataset/wild_asr/); constructor arguments come from
``--metrics_kwargs '{"normalizer": "zh", "by": ["category"]}'``. The class follows NeMo-Skills' metrics interface
(``reset``, ``setup(input_files)``, ``update(predictions)`` with one dict per generation of one
example, ``get_metrics() -> {eval_mode: {metric: value}}``, ``metrics_to_print``,
``evaluations_to_print``, ``get_incorrect_sample``); floats are percentages, as NeMo-Skills prints
them. It subclasses ``nemo_skills.evaluation.metrics.base.BaseMetrics`` when NeMo-Skills is installed
and works without it.

Each prediction needs the model output in ``generation`` (Qwen3-ASR raw output is parsed) and the
reference in ``expected_answer`` (NeMo-Skills' name) or ``text``/``answer``/``reference``. Eval modes:
``pass@1`` (first generation); with k > 1 generations also ``pass@1[avg-of-k]`` (each metric averaged
over the k generations) and ``pass@k`` (oracle: per utterance the generation with fewest errors).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from nemo_wild_eval.flags import FlagThresholds

try:  # pragma: no cover - nemo-skills is not a dependency of this project
    from nemo_skills.evaluation.metrics.base import BaseMetrics as _Base
    from nemo_skills.evaluation.metrics.base import as_int, as_percentage

    HAVE_NEMO_SKILLS = True
except ImportError:
    HAVE_NEMO_SKILLS = False

    class _Base:  # type: ignore[no-redef]
        """Stand-in with BaseMetrics' shape when NeMo-Skills is not installed."""

        def __init__(self, compute_no_answer: bool = True):
            self.compute_no_answer = compute_no_answer
            self.reset()

        def reset(self) -> None:
            self.total = 0
            self.max_k = 0
            self.avg_tokens = 0
            self.min_start_time = float("inf")
            self.max_end_time = float("-inf")
            self.eval_dict = defaultdict(lambda: defaultdict(float))
            self.all_scores = defaultdict(list)

        def setup(self, input_files) -> None:
            pass

    def as_percentage(metric_value) -> str:
        return f"{metric_value:.2f}%"

    def as_int(metric_value) -> str:
        return f"{int(metric_value)}"


__all__ = ["WildASRMetrics", "WildASRZhMetrics", "HAVE_NEMO_SKILLS"]

REFERENCE_KEYS = ("expected_answer", "text", "answer", "reference", "transcript")
_PERCENT = ("wer", "sub_rate", "ins_rate", "del_rate", "ser", "hallucination_rate", "omission_rate")
_COUNTS = ("ref_words", "hyp_words", "substitutions", "insertions", "deletions", "errors",
           "hallucinations", "omissions", "empty_references")


class WildASRMetrics(_Base):
    """ASR metrics (WER, S/I/D, hallucination/omission rates, breakdowns) for NeMo-Skills."""

    def __init__(
        self,
        normalizer: str = "whisper_en",
        preset: str | None = None,
        by: Sequence[str] | None = None,
        generation_key: str = "generation",
        reference_key: str | None = None,
        compute_no_answer: bool = True,
        thresholds: dict | None = None,
    ):
        self.normalizer = normalizer
        self.preset = preset
        self.by = list(by) if by is not None else None
        self.generation_key = generation_key
        self.reference_key = reference_key
        self.thresholds = FlagThresholds(**(thresholds or {}))
        super().__init__(compute_no_answer=compute_no_answer)

    # -- NeMo-Skills interface -------------------------------------------------------------
    def reset(self) -> None:
        super().reset()
        self._rows: list[list[dict]] = []

    def setup(self, input_files) -> None:
        pass

    def _record(self, pred: dict) -> dict:
        keys = (self.reference_key,) if self.reference_key else REFERENCE_KEYS
        ref = next((pred[k] for k in keys if isinstance(pred.get(k), str)), None)
        if ref is None:
            raise ValueError(f"prediction has no reference ({'/'.join(keys)}); keys: {sorted(pred)[:12]}")
        gen = pred.get(self.generation_key)
        rec = {k: v for k, v in pred.items() if k not in (self.generation_key,)}
        rec["text"] = ref
        rec["pred_text"] = gen.strip() if isinstance(gen, str) else ""
        return rec

    def update(self, predictions: list[dict]) -> None:
        """One example: its k generations (a dict each, NeMo-Skills' output lines)."""
        self.total += 1
        k = len(predictions)
        if self.max_k and k != self.max_k:
            raise ValueError(f"expected {self.max_k} predictions, got {k} (generations differ between examples)")
        self.max_k = self.max_k or k
        self.avg_tokens += sum(p.get("num_generated_tokens", 0) for p in predictions) / max(1, k)
        for p in predictions:
            if "generation_start_time" in p and "generation_end_time" in p:
                self.min_start_time = min(self.min_start_time, p["generation_start_time"])
                self.max_end_time = max(self.max_end_time, p["generation_end_time"])
        self._rows.append([self._record(p) for p in predictions])

    def get_incorrect_sample(self, prediction: dict) -> dict:
        """The sample scored as if the model produced nothing (an omission)."""
        out = dict(prediction)
        out[self.generation_key] = ""
        return out

    def _score(self, records: list[dict]):
        from nemo_wild_eval.scorer import score_manifest

        return score_manifest(
            records, normalizer=self.normalizer, preset=self.preset, by=self.by, skip_bad=True,
            thresholds=self.thresholds,
        )

    def _pack(self, result) -> dict:
        m = result.metrics
        out: dict[str, Any] = {"num_entries": self.total}
        if self.avg_tokens > 0 and self.total:
            out["avg_tokens"] = int(self.avg_tokens / self.total)
        if self.max_end_time > float("-inf") and self.min_start_time < float("inf"):
            out["gen_seconds"] = int(self.max_end_time - self.min_start_time)
        for k in _PERCENT:
            out[k] = None if m[k] is None else 100.0 * m[k]
        for k in _COUNTS:
            out[k] = m[k]
        out["skipped"] = len(result.skipped)
        for key, groups in result.breakdowns.items():
            for label, g in groups.items():
                out[f"wer[{key}={label}]"] = None if g["wer"] is None else 100.0 * g["wer"]
        return out

    def get_metrics(self) -> dict:
        if not self._rows:
            return {}
        k = self.max_k
        per_gen = [self._score([row[j] for row in self._rows]) for j in range(k)]
        modes = {"pass@1": self._pack(per_gen[0])}
        if k > 1:
            packs = [self._pack(r) for r in per_gen]
            avg: dict[str, Any] = {}
            for name, v in packs[0].items():
                vals = [p.get(name) for p in packs]
                if name in ("num_entries", "avg_tokens", "gen_seconds"):
                    avg[name] = v
                elif all(isinstance(x, (int, float)) for x in vals):
                    avg[name] = sum(vals) / k
            modes[f"pass@1[avg-of-{k}]"] = avg
            # oracle: the generation with the fewest errors per utterance (first on ties)
            errs = [(r.substitutions + r.insertions + r.deletions).tolist() for r in per_gen]
            same_len = all(len(e) == len(self._rows) for e in errs)
            if same_len:
                best = [min(range(k), key=lambda j: errs[j][i]) for i in range(len(self._rows))]
                modes[f"pass@{k}"] = self._pack(self._score([row[b] for row, b in zip(self._rows, best)]))
        return modes

    def metrics_to_print(self) -> dict:
        return {
            "num_entries": as_int,
            "wer": as_percentage,
            "hallucination_rate": as_percentage,
            "omission_rate": as_percentage,
        }

    def evaluations_to_print(self) -> list[str]:
        if self.max_k <= 1:
            return ["pass@1"]
        return [f"pass@1[avg-of-{self.max_k}]", f"pass@{self.max_k}"]


class WildASRZhMetrics(WildASRMetrics):
    """Mandarin: the ``zh`` normaliser (one token per CJK character), i.e. character error rate."""

    def __init__(self, normalizer: str = "zh", **kwargs):
        super().__init__(normalizer=normalizer, **kwargs)
