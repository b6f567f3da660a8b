"""The miniature's task: a closed command grammar, big enough that held-out sentences are new.

Two templates over 63 words: ``<verb> the <adjective> <noun> <preposition> the <place>``
(15 360 sentences) and ``<name> <verb> <number> <adjective> <noun>s`` (11 520). Train and held-out
sentences are disjoint (every held-out sentence is a word combination never heard in training; every
word is heard). Why closed: a model trained from scratch on a few hundred utterances on 2 cores
cannot learn open English, but it can learn this, which makes WER movements meaningful.
"""

from __future__ import annotations

import itertools
import random

__all__ = ["VOCABULARY", "all_sentences", "split_sentences"]

_VERBS = "put move place push drop slide".split()
_ADJS = "red green blue yellow black white small large".split()
_NOUNS = "cup box ball book pen key phone bag".split()
_PREPS = "on under near behind beside".split()
_PLACES = "table chair shelf bed desk door window floor".split()
_NAMES = "anna ben carl dora emma frank".split()
_NUMS = "two three four five six seven eight nine".split()
_VERBS2 = "wants needs buys sells finds".split()


def all_sentences() -> tuple[list[str], list[str]]:
    """Every sentence of the two templates (lower case, no punctuation), in a fixed order."""
    a = [f"{v} the {j} {n} {p} the {pl}" for v, j, n, p, pl in itertools.product(_VERBS, _ADJS, _NOUNS, _PREPS, _PLACES)]
    b = [f"{nm} {v} {k} {j} {n}s" for nm, v, k, j, n in itertools.product(_NAMES, _VERBS2, _NUMS, _ADJS, _NOUNS)]
    return a, b


VOCABULARY: tuple[str, ...] = tuple(sorted({w for s in sum(all_sentences(), []) for w in s.split()}))


def split_sentences(n_train: int, n_heldout: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Disjoint train / held-out sentences, 3:2 from the two templates, seeded."""
    a, b = all_sentences()
    rng = random.Random(seed)
    rng.shuffle(a)
    rng.shuffle(b)
    na, nb = n_train * 3 // 5, n_train - n_train * 3 // 5
    ha, hb = n_heldout // 2, n_heldout - n_heldout // 2
    train = a[:na] + b[:nb]
    heldout = a[len(a) - ha:] + b[len(b) - hb:]
    assert not set(train) & set(heldout)
    return train, heldout
