"""A chain of modules whose parameters (and gradients) live in one packed vector."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from mmids.nn.module import F64, Array, Module, Parameter

__all__ = ["Sequential"]


class Sequential(Module):
    """Layers applied in order; ``backward`` runs them in reverse.

    On construction the parameters of all layers are packed into one contiguous vector (and their
    gradients into another); each ``Parameter.value``/``grad`` becomes a view into it
    (``self.packed`` is the pack itself). Optimisers and ``clip_grad_norm`` recognise a complete
    pack and update it in one go. All parameters must share one dtype.

    With ``record = True`` the model also keeps, after each call, ``activations`` (the input and
    the output of every layer: ``[X, layer_1(X), …]``) and, after ``backward``, ``gradients``
    (``∇L`` with respect to each of those, same shapes; the entry for ``X`` is None when not
    computed), e.g.
    for histograms of hidden activations and of the gradients flowing back through them.
    """

    record: bool = False
    activations: list[Array]
    gradients: list[Array | None]

    def __init__(self, *layers: Module) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a Module")
        self.layers = list(layers)
        self._params = [p for layer in self.layers for p in layer.parameters()]
        if len({id(p) for p in self._params}) != len(self._params):
            raise ValueError("Sequential: a Parameter appears twice (a layer is shared)")
        dtypes = {p.value.dtype for p in self._params}
        if len(dtypes) > 1:
            raise ValueError(f"Sequential: all parameters must share one dtype, got {dtypes}")
        self.dtype: np.dtype[Any] = dtypes.pop() if dtypes else F64
        self.packed = self._pack_parameters()

    def _pack_parameters(self) -> Parameter:
        total = sum(p.value.size for p in self._params)
        pack = Parameter(np.zeros(total, self.dtype), "packed")
        start = 0
        offsets = {}
        for p in self._params:
            stop = start + p.value.size
            offsets[id(p)] = start
            pack.value[start:stop] = p.value.reshape(-1)
            pack.grad[start:stop] = p.grad.reshape(-1)
            p.value = pack.value[start:stop].reshape(p.value.shape)
            p.grad = pack.grad[start:stop].reshape(p.grad.shape)
            p._pack = pack
            start = stop
        # a nested Sequential keeps a valid ``packed``: its (contiguous) slice of the new pack
        for layer in self.layers:
            if isinstance(layer, Sequential) and layer._params:
                lo = offsets[id(layer._params[0])]
                hi = lo + layer.packed.value.size
                layer.packed.value = pack.value[lo:hi]
                layer.packed.grad = pack.grad[lo:hi]
        return pack

    def parameters(self) -> list[Parameter]:
        return list(self._params)

    def forward(self, X: ArrayLike) -> Array:
        if self.record:
            self.activations = [np.asarray(X)]
            for layer in self.layers:
                self.activations.append(layer.forward(self.activations[-1]))
            return self.activations[-1]
        for layer in self.layers:
            X = layer.forward(X)
        return X  # type: ignore[return-value]

    def backward(self, P: Array, need_input_grad: bool = True) -> Array | None:
        layers = self.layers
        if self.record:
            self.gradients = [P]
        for i in range(len(layers) - 1, 0, -1):
            P = layers[i].backward(P)  # type: ignore[assignment]
            if self.record:
                self.gradients.append(P)
        out = layers[0].backward(P, need_input_grad)
        if self.record:
            self.gradients.append(out)
            self.gradients.reverse()
        return out

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"
