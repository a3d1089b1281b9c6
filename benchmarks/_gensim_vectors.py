"""Shared by the vector benchmarks: word vectors trained by gensim on the WordNet glosses."""

import gzip
import os
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def trained_vectors(path: str, epochs: int = 5) -> str:
    """Train gensim word2vec on ../shared/data/wordnet-glosses.txt.gz once; return the binary
    word2vec file (reused when it exists)."""
    if os.path.exists(path):
        return path
    from gensim.models import Word2Vec

    class Glosses:
        def __iter__(self):
            with gzip.open(DATA / "wordnet-glosses.txt.gz", "rt", encoding="utf-8") as lines:
                for line in lines:
                    yield line.split()

    model = Word2Vec(Glosses(), vector_size=100, window=5, min_count=5, workers=2,
                     epochs=epochs, seed=1)
    model.wv.save_word2vec_format(path, binary=True)
    return path
