"""Tensors that record the operations applied to them, and the reverse-mode pass over that record.

A :class:`Tensor` wraps a NumPy array. When an operation made with :func:`primitive` runs on
tensors that require gradients, its output remembers its parents and, for each parent, the
vector-Jacobian product (VJP) that maps the output's gradient to that parent's. ``backward()``
visits the graph in reverse topological order; a tensor used on several paths receives the sum
of their gradients. Jacobians are never formed.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from typing import Any, overload

import numpy as np

from embedkit.core.scatter import sparse_times

_grad_enabled = True
#: The context of a tensor no primitive made (a leaf): its VJPs are never called.
_NO_CONTEXT: tuple[Any, list, dict] = (None, [], {})


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Run the enclosed operations without recording them (inference, optimizer steps)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


class SparseRows:
    """A gradient that is zero except on some rows: ``values[i]`` belongs to row ``ids[i]``.

    Ids may repeat (a word seen twice in a batch); :meth:`coalesce` sums duplicates, and
    :meth:`add_to` adds them to a dense array without merging them first. The dense ``shape``
    is kept only as metadata: a ``|V| x d`` array is never built unless asked for.

    With ``indptr`` and ``weights`` one value row is shared by several ids: row ``ids[j]``
    receives ``weights[j] * values[b]`` for every ``j`` in ``indptr[b]:indptr[b + 1]`` (the
    transpose of a sparse matrix times ``values``). CBOW's bag members all receive their
    bag's gradient this way without it being copied per member.
    """

    __slots__ = ("ids", "values", "shape", "indptr", "weights")
    __array_ufunc__ = None  # so ``ndarray + SparseRows`` calls __radd__ instead of broadcasting

    def __init__(self, ids: np.ndarray, values: np.ndarray, shape: tuple[int, ...],
                 indptr: np.ndarray | None = None, weights: np.ndarray | None = None):
        self.ids = ids
        self.values = values
        self.shape = shape
        self.indptr = indptr
        self.weights = weights

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    def _rows(self) -> np.ndarray:
        """The values as 2-D rows."""
        return self.values.reshape(-1, math.prod(self.shape[1:]))

    def _layout(self, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray]:
        """Ids, indptr, weights (times ``scale``) and value rows, the one-row-per-id form
        filled in."""
        ids = self.ids.reshape(-1)
        if self.indptr is None:
            # int32 ids get an int32 indptr: the scatter kernel then copies neither
            return (ids, np.arange(len(ids) + 1,
                                   dtype=np.int32 if ids.dtype == np.int32 else np.int64),
                    np.full(len(ids), scale, self.dtype), self._rows())
        weights = (np.full(len(ids), scale, self.dtype) if self.weights is None
                   else self.weights * scale if scale != 1.0 else self.weights)
        return ids, self.indptr, weights, self._rows()

    def __add__(self, other: SparseRows | np.ndarray) -> SparseRows | np.ndarray:
        if not isinstance(other, SparseRows):
            return other + self  # dense + sparse stays dense
        if self.indptr is None and other.indptr is None:
            return SparseRows(np.concatenate([self.ids.reshape(-1), other.ids.reshape(-1)]),
                              np.concatenate([self._rows(), other._rows()]), self.shape)
        (ids, indptr, weights, values), (o_ids, o_indptr, o_weights, o_values) = (
            self._layout(), other._layout())
        return SparseRows(np.concatenate([ids, o_ids]), np.concatenate([values, o_values]),
                          self.shape, np.concatenate([indptr, o_indptr[1:] + indptr[-1]]),
                          np.concatenate([weights, o_weights]))

    def __radd__(self, other: np.ndarray) -> np.ndarray:
        return self.add_to(np.array(other, copy=True, order="C"))

    def add_to(self, out: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """``out += scale * self`` in place (``out`` C-contiguous, of ``shape``); returns it.

        Repeated ids are added one after the other, in order: deterministic, but not rounded
        like a sum merged first.
        """
        ids, indptr, weights, values = self._layout(scale)
        sparse_times(indptr, ids, weights, values, len(out), transpose=True,
                     out=out.reshape(len(out), -1))
        return out

    def coalesce(self) -> SparseRows:
        """Sum the values of repeated ids (and expand shared rows); ids come out sorted and
        unique.

        Ids that are already sorted and unique, one row each (a ``gather`` of ``np.unique``
        output) return ``self`` after one comparison pass, without another sort.
        """
        if (self.indptr is None and self.ids.ndim == 1
                and np.all(self.ids[1:] > self.ids[:-1])):
            return self
        ids, indptr, weights, values = self._layout()
        unique, inverse = np.unique(ids, return_inverse=True)
        summed = sparse_times(indptr, inverse, weights, values, len(unique), transpose=True)
        return SparseRows(unique, summed.reshape((len(unique),) + tuple(self.shape[1:])),
                          self.shape)

    def to_dense(self) -> np.ndarray:
        """The gradient as a full array (for tests and small tables only)."""
        return self.add_to(np.zeros(self.shape, dtype=self.dtype))


class Tensor:
    """A NumPy array that may take part in a computation graph.

    Parameters
    ----------
    data : array_like
        The value. Floating arrays keep their dtype (float32 stays float32).
    requires_grad : bool
        Whether ``backward()`` should compute a gradient for this tensor (parameters: True,
        constants and inputs: False).

    Attributes
    ----------
    grad : ndarray, SparseRows or None
        After ``backward()``, the gradient of the loss with respect to this tensor (same shape),
        for tensors that require it and were created by the user (leaves).
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_vjps", "_context", "__weakref__")
    __array_priority__ = 100  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, requires_grad: bool = False):
        self.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        self.grad: np.ndarray | SparseRows | None = None
        self.requires_grad = requires_grad
        self._parents: tuple[Tensor, ...] = ()
        self._vjps: tuple[Callable[..., Any], ...] = ()
        self._context: tuple[Any, list, dict] = _NO_CONTEXT  # (ans or saved, args, kwargs)

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def __repr__(self) -> str:
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{flag})"

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self.data

    def zero_grad(self) -> None:
        """Forget the gradient of the previous backward pass."""
        self.grad = None

    # Python's operators, each one primitive of embedkit.core.ops.

    def __add__(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.div(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pow__(self, p: Any) -> Tensor:
        return ops.power(self, p)

    @property
    def T(self) -> Tensor:  # noqa: N802 - NumPy's name
        """The transpose (all axes reversed)."""
        return ops.transpose(self)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """:func:`embedkit.core.ops.sum`."""
        return ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """:func:`embedkit.core.ops.mean`."""
        return ops.mean(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        """:func:`embedkit.core.ops.reshape`; the shape as one tuple or as integers."""
        return ops.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], tuple)
                           else shape)

    def backward(self, grad: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires it.

        Parameters
        ----------
        grad : array_like, optional
            The gradient flowing into this tensor; defaults to 1 for a one-element tensor.
            Gradients of leaves accumulate across calls (call ``zero_grad`` between steps).
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward() without a gradient needs a scalar, got shape "
                                 f"{self.shape}")
            grad = np.ones_like(self.data)
        grads: dict[int, Any] = {id(self): np.asarray(grad, dtype=self.dtype)}
        # Kahn's algorithm: a node is ready once every consumer of it in the graph has sent
        # its gradient, which visits the nodes in reverse topological order.
        waiting = _count_consumers(self)
        ready = [self]
        while ready:
            node = ready.pop()
            g = grads.pop(id(node))
            if not node._parents:
                node.grad = g if node.grad is None else node.grad + g
                continue
            ans, args, kwargs = node._context
            for parent, vjp in zip(node._parents, node._vjps, strict=True):
                contribution = vjp(g, ans, *args, **kwargs)
                key = id(parent)
                previous = grads.get(key)
                grads[key] = contribution if previous is None else previous + contribution
                waiting[key] -= 1
                if not waiting[key]:
                    ready.append(parent)


def _count_consumers(root: Tensor) -> dict[int, int]:
    """For every node reachable from ``root``, how many edges lead to it (one per use)."""
    counts: dict[int, int] = {}
    stack = [root]
    while stack:
        for parent in stack.pop()._parents:
            key = id(parent)
            if key in counts:
                counts[key] += 1
            else:
                counts[key] = 1
                stack.append(parent)
    return counts


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes NumPy broadcasting added or stretched, to get back ``shape``.

    Every binary operation's VJP ends with this, so broadcasting is undone in one place.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


#: Every primitive by name, so gradient checking can find and test them all.
PRIMITIVES: dict[str, Primitive] = {}

#: A VJP: ``vjp(g, ans, *args, **kwargs) -> gradient for one argument``.
VJP = Callable[..., Any]


class Primitive:
    """An operation on tensors made from a function on arrays, with one VJP per argument.

    Calling it unwraps tensor arguments, runs the forward on arrays and, when gradients are
    recorded and an argument requires one, returns a tensor that remembers its parents, their
    VJPs and what the VJPs need again. Made with :func:`primitive`; VJPs attached with
    :meth:`defvjp`.

    Attributes
    ----------
    name : str
        Its key in :data:`PRIMITIVES` (the gradient check's name for it).
    forward : callable
        The function on arrays (also reachable as ``__wrapped__``).
    """

    def __init__(self, forward: Callable[..., Any], name: str | None = None,
                 saves: bool = False):
        functools.update_wrapper(self, forward)
        self.forward = forward
        self.name = name or forward.__name__
        self.saves = saves
        self.vjps: dict[int, VJP] = {}
        PRIMITIVES[self.name] = self

    def defvjp(self, *makers: VJP | None) -> None:
        """Attach the VJPs: the i-th for the forward's i-th argument (None: not
        differentiable in it, e.g. integer ids)."""
        for i, vjp in enumerate(makers):
            if vjp is not None:
                self.vjps[i] = vjp

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        result = self.forward(*arrays, **kwargs)
        ans, saved = result if self.saves else (result, result)
        if not _grad_enabled:
            return Tensor(ans)
        tracked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not tracked:
            return Tensor(ans)
        vjps = self.vjps
        missing = [i for i in tracked if i not in vjps]
        if missing:
            raise NotImplementedError(f"VJP of {self.name} for argument {missing[0]} is not "
                                      "defined")
        out = Tensor(ans, requires_grad=True)
        out._parents = tuple(args[i] for i in tracked)
        out._vjps = tuple(vjps[i] for i in tracked)
        out._context = (saved, arrays, kwargs)
        return out

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


@overload
def primitive(forward: Callable[..., Any], *, name: str | None = None,
              saves: bool = False) -> Primitive: ...


@overload
def primitive(forward: None = None, *, name: str | None = None,
              saves: bool = False) -> Callable[[Callable[..., Any]], Primitive]: ...


def primitive(forward: Callable[..., Any] | None = None, *, name: str | None = None,
              saves: bool = False) -> Primitive | Callable[[Callable[..., Any]], Primitive]:
    """Turn a function on arrays into a :class:`Primitive`; attach VJPs with ``.defvjp``.

    The forward receives arrays (tensors unwrapped) plus keyword options and returns an array,
    or, with ``saves=True``, ``(array, saved)`` where ``saved`` is whatever the VJPs need again.
    Each VJP is ``vjp(g, ans, *args, **kwargs) -> gradient for that argument``, where ``ans`` is
    the output (or ``saved``) and ``args`` the forward's arrays. A tensor argument whose VJP was
    never defined raises ``NotImplementedError`` instead of getting a silent zero.

    Examples
    --------
    >>> @primitive
    ... def square(x):
    ...     return x * x
    >>> square.defvjp(lambda g, ans, x: 2 * x * g)
    """
    if forward is None:
        return functools.partial(Primitive, name=name, saves=saves)
    return Primitive(forward, name, saves)


# The operators are primitives of ops, which builds on Tensor: imported last.
from embedkit.core import ops  # noqa: E402
