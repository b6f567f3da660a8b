"""DG-WGPO for verl: the reward, the audio rollout path, A2S-SFT and the clean/degraded router.

Importing this package never imports verl or torch; the verl-facing pieces live in sub-modules.
"""

__version__ = "0.1.0"
