"""The backprop core: tensors, primitives with their VJPs, optimizers and gradient checking.

It knows nothing of words, files or the command line.
"""

from embedkit.core import ops
from embedkit.core.tensor import PRIMITIVES, SparseRows, Tensor, no_grad, primitive, unbroadcast

__all__ = ["PRIMITIVES", "SparseRows", "Tensor", "no_grad", "ops", "primitive", "unbroadcast"]
