"""``wildasr``: the project's front door (one console script) and the end-to-end demo pipeline.

The three plugins (``lhotse_wild``, ``verl_dgwgpo``, ``nemo_wild_eval``) work as plain libraries;
this package only wires them into sub-commands.
"""

__version__ = "0.1.0"
