"""The router trained ~35 s on CPU on real Piper speech vs lhotse_wild output, scored on held-out data."""

from __future__ import annotations

import json

from router_fixtures import router_corpus, router_splits, trained_router  # noqa: F401  (fixtures)


def test_splits_keep_heldout_conditions_and_speech_out_of_training(router_splits):
    from verl_dgwgpo.router.data import DEFAULT_HOLDOUT_SCENARIOS, DEFAULT_HOLDOUT_SEVERITY

    s = router_splits
    train_src = {m["source"] for m in s.train_clean.meta}
    assert not train_src & {m["source"] for m in s.test_clean.meta}
    lo, hi = DEFAULT_HOLDOUT_SEVERITY
    for m in s.train_degraded.meta:
        assert m["source"] in train_src
        assert m["scenario"] not in DEFAULT_HOLDOUT_SCENARIOS
        assert not lo <= m["severity"] <= hi
    groups = {m["group"] for m in s.test_degraded.meta}
    assert "heldout_scenario" in groups and "seen" in groups


def test_heldout_accuracy_well_above_chance(trained_router, router_splits, tmp_path):
    from verl_dgwgpo.router import evaluate_router

    model, metrics, _ = trained_router
    r = evaluate_router(model, router_splits.test_clean, router_splits.test_degraded, out_dir=tmp_path)
    held = r["per_group"]["heldout_scenario"]
    print(f"\nrouter: {metrics['steps']} steps / {metrics['train_seconds']} s; held-out: clean acc "
          f"{r['clean_accuracy']:.3f}, held-out-scenario acc {held['accuracy']:.3f} (balanced "
          f"{held['balanced_accuracy']:.3f}, AUC {held['auc']:.3f}); all: acc {r['accuracy']:.3f} AUC {r['auc']:.3f}")
    assert r["auc"] >= 0.85
    assert held["balanced_accuracy"] >= 0.8  # chance is 0.5
    assert held["auc"] >= 0.85
    for name in ("roc", "per_scenario", "per_severity", "prob_hist"):
        with open(r["plots"][name], "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "router_eval.json").read_text())
    assert saved["auc"] == r["auc"] and "per_scenario" in saved and "per_severity" in saved
    assert "| auc |" in (tmp_path / "router_eval.md").read_text()


def test_cli_train_and_eval(router_corpus, tmp_path):
    """`wildasr router train` (2 exact steps: mechanics only) then `wildasr router eval` on lhotse_wild output."""
    import lhotse_wild
    from wildasr.cli import main

    cuts = router_corpus.subset(first=8)
    cuts.to_file(tmp_path / "clean.jsonl.gz")
    lhotse_wild.degrade_cuts(cuts, scenarios="all", seed=3, output_dir=tmp_path / "wild", progress=False)
    out = tmp_path / "run"
    assert main(["router", "train", "--clean", str(tmp_path / "clean.jsonl.gz"), "--out", str(out),
                 "--steps", "2", "--quiet", "--per-clip", "2"]) == 0
    assert (out / "router" / "router.safetensors").is_file() and (out / "eval" / "router_eval.json").is_file()
    assert main(["router", "eval", "--router", str(out / "router"), "--clean", str(tmp_path / "clean.jsonl.gz"),
                 "--degraded", str(tmp_path / "wild" / "cuts.jsonl"), "--out", str(tmp_path / "ev")]) == 0
    r = json.loads((tmp_path / "ev" / "router_eval.json").read_text())
    assert r["n_clean"] == 8 and r["n_degraded"] == 8 and len(r["per_scenario"]) >= 1
    assert main(["router", "eval", "--router", str(tmp_path), "--clean", "x", "--degraded", "y",
                 "--out", str(tmp_path / "e2")]) == 2
