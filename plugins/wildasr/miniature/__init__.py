"""The recipe in miniature (issue 16): a small audio LLM trained here from scratch, then the recipe.

``grammar`` (the closed task), ``base_model`` (word tokenizer, Qwen3-ASR builder, from-scratch
training), ``evaluate`` (transcribe held-out clips, score them with ``nemo_wild_eval``), ``recipe``
(the stages and plans, resumable), ``report`` (results table, report.md, plots). ``wildasr demo``
(stage ``train``) and ``benchmarks/recipe_mini.py`` run it.
"""
