"""``lhotse_wild``: the 54-scenario compound-degradation simulator for Lhotse (docs/design.md §3).

    import lhotse_wild
    y, params = lhotse_wild.degrade(samples, 16000, "far_field_noise_dropout", severity=0.6, seed=7)
    assert (lhotse_wild.replay(samples, 16000, params) == y).all()
    wild = lhotse_wild.degrade_cuts(cuts, scenarios="all", seed=0, output_dir="wild/")
    wild = lhotse_wild.degrade_cuts_ray(cuts, "wild_shar/", address="auto", seed=0)  # same cuts, on Ray
    wild = lhotse_wild.degrade_round_robin(cuts, "wild/", seed=0, stream=1, total=108)  # every scenario twice
    dataset = K2SpeechRecognitionDataset(cut_transforms=[lhotse_wild.RandomWildDegradation(seed=0)])

Importing this package is cheap (no numpy/scipy/lhotse/torch): names load on first use. The Lhotse
transform ``WildDegradation`` is registered with Lhotse as soon as both packages are imported, in
either order, so manifests that hold it deserialise after ``import lhotse_wild``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from typing import Any

from lhotse_wild.scenarios import ANCHORS, EFFECTS, MODIFIERS, SCENARIO_GROUPS, SCENARIOS, resolve_scenarios

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "degrade": "lhotse_wild.core",
    "replay": "lhotse_wild.core",
    "resolve_params": "lhotse_wild.core",
    "PARAMS_VERSION": "lhotse_wild.core",
    "SAMPLERS": "lhotse_wild.severity",
    "sample_severity": "lhotse_wild.severity",
    "SPECS": "lhotse_wild.effects",
    "OPTIONS": "lhotse_wild.effects",
    "load_config": "lhotse_wild.effects",
    "NoiseBank": "lhotse_wild.noise",
    "WildDegradation": "lhotse_wild.transform",
    "RandomWildDegradation": "lhotse_wild.transform",
    "degrade_cut": "lhotse_wild.transform",
    "degrade_one_cut": "lhotse_wild.build",
    "write_degraded": "lhotse_wild.build",
    "degrade_cuts": "lhotse_wild.build",
    "render_cut": "lhotse_wild.build",
    "BuildSettings": "lhotse_wild.build",
    "degrade_cuts_ray": "lhotse_wild.ray_build",
    "degrade_round_robin": "lhotse_wild.round_robin",
}

__all__ = ["ANCHORS", "EFFECTS", "MODIFIERS", "SCENARIOS", "SCENARIO_GROUPS", "resolve_scenarios",
           "primitives", *_LAZY]


def __getattr__(name: str) -> Any:
    if name == "primitives":
        return importlib.import_module("lhotse_wild.primitives")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lhotse_wild' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _register_transform() -> None:
    try:
        importlib.import_module("lhotse_wild.transform")
    except Exception as exc:  # never break `import lhotse` because of us
        warnings.warn(f"lhotse_wild: WildDegradation not registered with lhotse ({exc})", stacklevel=2)


class _AfterLhotseImport(importlib.abc.MetaPathFinder):
    """One-shot hook: once ``import lhotse`` has finished, register WildDegradation."""

    def find_spec(self, fullname, path, target=None):  # noqa: D401 - importlib protocol
        if fullname != "lhotse":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec("lhotse")
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module):
            original(module)
            _register_transform()

        loader.exec_module = exec_module
        return spec


if "lhotse" in sys.modules:
    _register_transform()
elif not any(isinstance(f, _AfterLhotseImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterLhotseImport())
