"""A synthetic corpus with planted structure, for checking that training recovers it.

A small world written in template sentences: countries and their capitals, male and
female pairs, singular and plural nouns, each pair with a few topic words of its own, mixed
with filler and random noise words. The planted analogies (``paris : france :: rome :
italy``, ``king : queen :: man : woman``, ``cat : cats :: dog : dogs``) are those word2vec
recovers from co-occurrence: the two words of a pair share their topic words, and the two
sides of every relation share the words of their templates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import numpy as np

from embedkit.errors import EmbedkitError

COUNTRIES = (
    ("france", "paris"), ("germany", "berlin"), ("italy", "rome"), ("spain", "madrid"),
    ("portugal", "lisbon"), ("austria", "vienna"), ("greece", "athens"),
    ("poland", "warsaw"), ("russia", "moscow"), ("japan", "tokyo"), ("china", "beijing"),
    ("egypt", "cairo"), ("kenya", "nairobi"), ("peru", "lima"), ("cuba", "havana"),
    ("norway", "oslo"), ("sweden", "stockholm"), ("finland", "helsinki"),
    ("ireland", "dublin"), ("hungary", "budapest"), ("turkey", "ankara"),
    ("iran", "tehran"), ("chile", "santiago"), ("canada", "ottawa"), ("australia", "canberra"),
    ("thailand", "bangkok"), ("vietnam", "hanoi"), ("denmark", "copenhagen"),
)

GENDER_PAIRS = (
    ("king", "queen"), ("man", "woman"), ("boy", "girl"), ("father", "mother"),
    ("son", "daughter"), ("brother", "sister"), ("husband", "wife"), ("uncle", "aunt"),
    ("prince", "princess"), ("nephew", "niece"), ("grandfather", "grandmother"),
    ("actor", "actress"), ("waiter", "waitress"), ("lord", "lady"), ("monk", "nun"),
    ("groom", "bride"),
)

NOUNS = (
    ("cat", "cats"), ("dog", "dogs"), ("horse", "horses"), ("bird", "birds"),
    ("car", "cars"), ("house", "houses"), ("tree", "trees"), ("river", "rivers"),
    ("book", "books"), ("apple", "apples"), ("ship", "ships"), ("road", "roads"),
    ("chair", "chairs"), ("table", "tables"), ("boat", "boats"), ("flower", "flowers"),
    ("stone", "stones"), ("cloud", "clouds"), ("lamp", "lamps"), ("coin", "coins"),
)

#: Words that fill every template; frequent, so subsampling thins them as in real text.
FILLER = ("the", "a", "of", "and", "in", "to", "is", "was", "that", "it", "on", "with",
          "as", "for", "at", "by", "this", "from", "very", "also", "often", "still")

_SYLLABLES = ("ka", "lo", "mi", "ru", "te", "va", "no", "si", "pe", "du", "ga", "zo", "bi",
              "fe", "tu", "ha", "ne", "ri", "so", "mu")

#: The templates of each relation: {a} is the first word of a pair (country, male,
#: singular), {b} the second, {t} one of the pair's topic words.
COUNTRY_TEMPLATES = (
    "the capital of {a} is {b}", "{b} is the capital of {a}", "{b} is a big city in {a}",
    "people in {a} speak of {t}", "the city of {b} is known for {t}",
    "the country of {a} is known for {t}", "{b} has a famous {t}",
    "the nation of {a} is proud of its {t}", "we flew to the city of {b}",
    "we travelled across the country of {a}", "the government of {a} sits in {b}",
    "the mayor of {b} spoke about {t}", "the people of {a} love {t}",
)
GENDER_TEMPLATES = (
    "the {a} said that he was tired", "the {b} said that she was tired",
    "he is a {a} and his name is {t}", "she is a {b} and her name is {t}",
    "the {a} and the {b} talked about {t}", "the {b} and the {a} talked about {t}",
    "he became a {a} of {t}", "she became a {b} of {t}", "the {a} smiled and he left",
    "the {b} smiled and she left", "every {a} thinks about {t}",
    "every {b} thinks about {t}",
)
NOUN_TEMPLATES = (
    "there is one {a} near the {t}", "there are many {b} near the {t}",
    "a single {a} was {t}", "several {b} were {t}", "this {a} is {t}", "these {b} are {t}",
    "one {a} and two {b}", "i saw a {a} by the {t}", "we saw some {b} by the {t}",
    "the {a} is {t} and old", "the {b} are {t} and old",
)

_RELATIONS = ((COUNTRIES, COUNTRY_TEMPLATES), (GENDER_PAIRS, GENDER_TEMPLATES),
              (NOUNS, NOUN_TEMPLATES))

#: Topic words per pair (invented words, distinct for every pair).
TOPICS_PER_PAIR = 3

#: Distinct noise words sprinkled into sentences.
NOISE_WORDS = 400


def planted_pairs() -> dict[str, tuple[tuple[str, str], ...]]:
    """The planted pairs by relation: ``capital``, ``gender``, ``plural``.

    ``capital`` pairs are ``(country, capital)``, ``gender`` ``(male, female)`` and
    ``plural`` ``(singular, plural)``.
    """
    return {"capital": COUNTRIES, "gender": GENDER_PAIRS, "plural": NOUNS}


def planted_analogies() -> list[tuple[str, str, str, str]]:
    """Every planted analogy ``a : b :: c : d`` (two pairs of the same relation)."""
    return [(a, b, c, d) for pairs in planted_pairs().values()
            for a, b in pairs for c, d in pairs if a != c]


def _invented_words(rng: np.random.Generator, n: int, syllables: int) -> list[str]:
    """``n`` distinct pronounceable nonsense words of the given number of syllables."""
    words: dict[str, None] = {}
    while len(words) < n:
        picks = rng.integers(0, len(_SYLLABLES), size=(n, syllables))
        words.update(dict.fromkeys("".join(_SYLLABLES[i] for i in row) for row in picks))
    return list(words)[:n]


def generate_sentences(n_sentences: int, rng: np.random.Generator,
                       noise_rate: float = 0.15) -> Iterator[str]:
    """Yield ``n_sentences`` lines of the planted world.

    Parameters
    ----------
    n_sentences : int
        Lines to write.
    rng : numpy.random.Generator
        Every choice (relation, pair, template, topic word, filler and noise) comes from it.
    noise_rate : float
        Expected number of inserted filler/noise words per template word.
    """
    if n_sentences < 0:
        raise EmbedkitError(f"sentences {n_sentences}: expected a count >= 0")
    total_pairs = sum(len(pairs) for pairs, _ in _RELATIONS)
    invented = _invented_words(rng, total_pairs * TOPICS_PER_PAIR + NOISE_WORDS, 3)
    topics = [invented[i * TOPICS_PER_PAIR:(i + 1) * TOPICS_PER_PAIR]
              for i in range(total_pairs)]
    noise = invented[total_pairs * TOPICS_PER_PAIR:] + list(FILLER)
    # Zipf-like noise frequencies, like the long tail of real text.
    noise_cdf = np.cumsum(1.0 / np.arange(1, len(noise) + 1))
    relation_cdf = np.cumsum([len(pairs) for pairs, _ in _RELATIONS])
    offsets = np.cumsum([0] + [len(pairs) for pairs, _ in _RELATIONS])
    for _ in range(n_sentences):
        r = int(np.searchsorted(relation_cdf, rng.random() * relation_cdf[-1], side="right"))
        pairs, templates = _RELATIONS[r]
        p = int(rng.integers(len(pairs)))
        a, b = pairs[p]
        template = templates[int(rng.integers(len(templates)))]
        topic = topics[offsets[r] + p][int(rng.integers(TOPICS_PER_PAIR))]
        words = template.format(a=a, b=b, t=topic).split()
        inserts = rng.poisson(noise_rate * len(words))
        chosen = np.searchsorted(noise_cdf, rng.random(inserts) * noise_cdf[-1], side="right")
        for position, k in zip(rng.integers(0, len(words) + 1, size=inserts).tolist(),
                               chosen.tolist(), strict=True):
            words.insert(position, noise[k])
        yield " ".join(words)


def write_planted_corpus(out: IO[str], n_sentences: int, rng: np.random.Generator) -> int:
    """Write :func:`generate_sentences` to ``out``, one per line; return the lines written."""
    lines = 0
    for sentence in generate_sentences(n_sentences, rng):
        out.write(sentence + "\n")
        lines += 1
    return lines
