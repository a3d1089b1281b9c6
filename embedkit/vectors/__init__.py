"""Word vectors: reading and writing their files, nearest neighbours, analogies, evaluation."""

from embedkit.vectors.formats import FORMATS, detect_format, load_vectors, read_vocab, save_vectors
from embedkit.vectors.keyed import KeyedVectors, UnknownWordError

__all__ = ["FORMATS", "KeyedVectors", "UnknownWordError", "detect_format", "load_vectors",
           "read_vocab", "save_vectors"]
