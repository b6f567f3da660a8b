"""The 54 degradation scenarios (DESIGN §3): names, effect order, validation.

Pure Python on purpose: ``lhotse_wild.SCENARIOS`` and the CLI's ``--help`` need no numpy/scipy/lhotse.

Rules (the table is the project's own; the paper gives only the counts):

* anchors ``far_field``, ``strong_echo``, ``obstructed`` describe the propagation path and are
  mutually exclusive; modifiers ``noise``, ``recording``, ``distortion``, ``dropout`` stack on top;
* 1 effect: each of the 7; 2: anchor + modifier (12) and modifier pairs (6); 3: anchor + ``noise`` +
  one other modifier (9) and modifier triples (4); 4: anchor + three modifiers (12) and all four
  modifiers (1); 5: anchor + all four modifiers (3). 7 + 18 + 13 + 13 + 3 = 54.
* names join effect names with ``_`` in the physical order (propagation → room noise at the
  microphone → device → channel), which is also the order of application.
"""

from __future__ import annotations

from itertools import combinations
from typing import Iterable, Sequence

from nemo_wild_eval.errors import InputError

ANCHORS: tuple[str, ...] = ("far_field", "strong_echo", "obstructed")
MODIFIERS: tuple[str, ...] = ("noise", "recording", "distortion", "dropout")
#: Physical (= application) order of the 7 effects.
EFFECTS: tuple[str, ...] = ANCHORS + MODIFIERS


def _build() -> dict[str, tuple[str, ...]]:
    combos: list[tuple[str, ...]] = [(e,) for e in EFFECTS]
    # 2 effects
    combos += [(a, m) for a in ANCHORS for m in MODIFIERS]
    combos += list(combinations(MODIFIERS, 2))
    # 3 effects: anchor + noise + one other modifier, then modifier triples
    combos += [(a, "noise", m) for a in ANCHORS for m in MODIFIERS if m != "noise"]
    combos += list(combinations(MODIFIERS, 3))
    # 4 effects: anchor + three modifiers, then all four modifiers
    combos += [(a,) + ms for a in ANCHORS for ms in combinations(MODIFIERS, 3)]
    combos.append(MODIFIERS)
    # 5 effects
    combos += [(a,) + MODIFIERS for a in ANCHORS]
    out: dict[str, tuple[str, ...]] = {}
    for combo in combos:
        ordered = tuple(sorted(combo, key=EFFECTS.index))
        out["_".join(ordered)] = ordered
    return out


#: scenario name -> effects in application order (54 entries, ordered by number of effects).
SCENARIOS: dict[str, tuple[str, ...]] = _build()

#: named groups accepted wherever a scenario list is.
SCENARIO_GROUPS: dict[str, tuple[str, ...]] = {
    "all": tuple(SCENARIOS),
    "atomic": tuple(n for n, e in SCENARIOS.items() if len(e) == 1),
    "compound": tuple(n for n, e in SCENARIOS.items() if len(e) > 1),
}


def scenario_effects(name: str) -> tuple[str, ...]:
    """Effects of ``name`` in application order; InputError naming it when unknown."""
    try:
        return SCENARIOS[name]
    except (KeyError, TypeError):
        raise InputError(
            f"unknown scenario {name!r}; expected one of the 54 names in lhotse_wild.SCENARIOS "
            f"(e.g. 'noise', 'far_field_noise_dropout')",
            source="scenario",
        ) from None


def resolve_scenarios(spec: str | Sequence[str] | Iterable[str] | None) -> tuple[str, ...]:
    """Turn ``"all"`` / ``"atomic"`` / ``"compound"`` / ``"a,b"`` / a list into checked names.

    Order is kept and duplicates dropped, so a per-cut draw over the result is reproducible.
    """
    if spec is None:
        spec = "all"
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",") if s.strip()]
    else:
        items = [str(s).strip() for s in spec]
    names: list[str] = []
    for item in items:
        group = SCENARIO_GROUPS.get(item)
        for name in group if group is not None else (item,):
            scenario_effects(name)
            if name not in names:
                names.append(name)
    if not names:
        raise InputError("no scenario selected", source="scenarios")
    return tuple(names)
