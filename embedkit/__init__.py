"""embedkit: word embeddings and autoencoders on a small NumPy reverse-mode backprop core."""

__version__ = "0.1.0"
