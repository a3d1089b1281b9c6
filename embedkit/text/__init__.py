"""Text to training data: reading corpora, tokenising, the vocabulary, subsampling,
skip-gram and CBOW windows, and the noise distribution of negative sampling."""

from embedkit.text.corpus import iter_text_blocks, iter_token_blocks, spool_streams
from embedkit.text.noise import NoiseDistribution
from embedkit.text.stream import IdChunk, iter_id_chunks
from embedkit.text.subsample import keep_probabilities, subsample_mask
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import Vocabulary, build_vocabulary
from embedkit.text.windows import (
    CbowSamples,
    SkipgramPairs,
    cbow_samples,
    iter_windows,
    skipgram_pairs,
)

__all__ = ["CbowSamples", "IdChunk", "NoiseDistribution", "SkipgramPairs", "Tokenizer",
           "Vocabulary", "build_vocabulary", "cbow_samples", "iter_id_chunks",
           "iter_text_blocks", "iter_token_blocks", "iter_windows", "keep_probabilities",
           "skipgram_pairs", "spool_streams", "subsample_mask"]
