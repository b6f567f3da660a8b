"""DG-WGPO for verl: the reward, the audio rollout path, A2S-SFT and the clean/degraded router.

Importing this package never imports verl or torch; the verl-facing pieces live in sub-modules.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # ``verl_dgwgpo.compute_score`` (the spelling) without importing anything at package import.
    if name == "compute_score":
        from .reward import compute_score

        return compute_score
    raise AttributeError(f"module 'verl_dgwgpo' has no attribute {name!r}")
