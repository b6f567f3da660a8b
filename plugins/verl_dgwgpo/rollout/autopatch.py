"""Importing this module applies :mod:`verl_dgwgpo.rollout.patches` (for import-only hooks).

verl imports ``verl.plugins`` entry points and ``VERL_USE_EXTERNAL_MODULES`` modules without calling
anything, so the patches must be installed as a side effect of an import.
"""

from .patches import apply

INSTALLED_AT_IMPORT = apply()
