"""``python -m verl_dgwgpo.sft CONFIG.yaml [overrides]`` (same as ``wildasr sft``; works under ``torchrun -m``)."""

from verl_dgwgpo.sft.cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
