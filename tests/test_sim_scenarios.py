"""The 54-scenario table (docs/design.md §3.2): counts, anchor exclusivity, naming = application order."""

from collections import Counter
from itertools import combinations

import pytest

import lhotse_wild
from lhotse_wild.scenarios import ANCHORS, EFFECTS, MODIFIERS, resolve_scenarios, scenario_effects
from nemo_wild_eval.errors import InputError


def test_counts_per_number_of_effects():
    counts = Counter(len(e) for e in lhotse_wild.SCENARIOS.values())
    assert len(lhotse_wild.SCENARIOS) == 54
    assert dict(counts) == {1: 7, 2: 18, 3: 13, 4: 13, 5: 3}


def test_anchors_never_combined_and_rules_hold():
    for name, effects in lhotse_wild.SCENARIOS.items():
        anchors = [e for e in effects if e in ANCHORS]
        mods = [e for e in effects if e in MODIFIERS]
        assert len(anchors) <= 1, name
        assert len(set(effects)) == len(effects), name
        if len(effects) == 3 and anchors:
            assert "noise" in mods, name  # anchor + noise + one other modifier
        if len(effects) == 5:
            assert mods == list(MODIFIERS), name


def test_every_allowed_combination_present_exactly_once():
    expected = set()
    expected |= {(e,) for e in EFFECTS}
    expected |= {(a, m) for a in ANCHORS for m in MODIFIERS} | set(combinations(MODIFIERS, 2))
    expected |= {(a, "noise", m) for a in ANCHORS for m in MODIFIERS[1:]} | set(combinations(MODIFIERS, 3))
    expected |= {(a, *ms) for a in ANCHORS for ms in combinations(MODIFIERS, 3)} | {MODIFIERS}
    expected |= {(a, *MODIFIERS) for a in ANCHORS}
    assert set(lhotse_wild.SCENARIOS.values()) == expected


def test_names_join_effects_in_physical_order():
    order = {e: i for i, e in enumerate(EFFECTS)}
    for name, effects in lhotse_wild.SCENARIOS.items():
        assert name == "_".join(effects)
        assert [order[e] for e in effects] == sorted(order[e] for e in effects)
    assert lhotse_wild.SCENARIOS["far_field_noise_dropout"] == ("far_field", "noise", "dropout")
    assert EFFECTS == ("far_field", "strong_echo", "obstructed", "noise", "recording", "distortion", "dropout")


def test_resolve_scenarios_groups_and_errors():
    assert resolve_scenarios("all") == tuple(lhotse_wild.SCENARIOS)
    assert len(resolve_scenarios("atomic")) == 7 and len(resolve_scenarios("compound")) == 47
    assert resolve_scenarios("noise, dropout,noise") == ("noise", "dropout")
    with pytest.raises(InputError, match="noise_far_field"):
        resolve_scenarios("noise_far_field")  # wrong order is not a name
    with pytest.raises(InputError, match="far_field_strong_echo"):
        scenario_effects("far_field_strong_echo")  # two anchors
    with pytest.raises(InputError):
        resolve_scenarios([])
