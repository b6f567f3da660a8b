"""The recipe in miniature (issue 16): a small audio LLM trained here from scratch, then the recipe.

``grammar`` (the closed task), ``base_model`` (word tokenizer, Qwen3-ASR builder, from-scratch
training), ``evaluate`` (transcribe held-out clips, score them with ``nemo_wild_eval``).
``benchmarks/recipe_mini.py`` runs the stages.
"""
