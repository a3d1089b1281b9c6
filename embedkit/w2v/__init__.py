"""word2vec: skip-gram and CBOW with negative sampling, trained on the backprop core.

Importing the package registers the fused losses with ``embedkit gradcheck``.
"""

from embedkit.w2v import sgns, subwords  # noqa: F401 - registers the gradient checks
