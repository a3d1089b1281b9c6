"""Autoencoders on the backprop core (a scikit-learn transformer) and their comparison with PCA.

Importing the package registers every model kind with ``embedkit gradcheck``.
"""

from embedkit.ae import gradchecks
from embedkit.ae.estimator import Autoencoder, load_model

gradchecks.register()

__all__ = ["Autoencoder", "load_model"]
