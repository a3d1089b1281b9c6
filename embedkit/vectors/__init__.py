"""Word vectors: reading and writing their files, nearest neighbours, analogies, evaluation."""

from embedkit.vectors.formats import VECTOR_FORMATS, load_vectors, read_vocab, save_vectors
from embedkit.vectors.keyed import KeyedVectors, UnknownWordError

__all__ = ["VECTOR_FORMATS", "KeyedVectors", "UnknownWordError", "load_vectors", "read_vocab",
           "save_vectors"]
