"""Numerical gradients by centred differences, to check analytic gradients against."""

import numpy as np


def eval_numerical_gradient(f, x, verbose=True, h=0.00001):
    """
    Evaluate the numerical gradient of f at x by centred differences.

    - f: a function that takes a single argument and returns a scalar
    - x: the point (numpy array) at which to evaluate the gradient; it is
      changed in place during the evaluation and restored afterwards
    - verbose: print every partial derivative as it is computed
    - h: the step of the difference quotient
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h
        fxph = f(x)  # f(x + h)
        x[ix] = oldval - h
        fxmh = f(x)  # f(x - h)
        x[ix] = oldval
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad
