# A NeMo-Skills extra-dataset folder whose metrics come from nemo_wild_eval:
#   ns eval ... --benchmarks wild_asr --extra_datasets examples/eval/nemo_skills_dataset \
#       --metrics_kwargs '{"normalizer": "whisper_en", "by": ["category"]}'
# Each test.jsonl line holds the audio (NeMo-Skills' audio message format) and the reference
# transcript in `expected_answer`; the metrics class parses Qwen3-ASR raw outputs and reports WER,
# S/I/D, hallucination and omission rates (nemo_wild_eval/nemo_skills.py). For Mandarin point
# METRICS_TYPE at "nemo_wild_eval.nemo_skills::WildASRZhMetrics" (character error rate).
DATASET_GROUP = "speechlm"
METRICS_TYPE = "nemo_wild_eval.nemo_skills::WildASRMetrics"
GENERATION_ARGS = "++prompt_format=openai"
