"""Reinforcement learning of audio policies in verl's own PPO/DAPO trainer (``wildasr rl``)."""
