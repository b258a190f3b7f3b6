"""Load the CIFAR-10 data set from the `cifar-10-batches-py` folder of the official archive."""

import os
import pickle

import numpy as np


def _unpickle(filename):
    """Read one pickle of the archive. Its pickles were written by Python 2, so
    their keys come back as str or bytes depending on who wrote them: accept both."""
    with open(filename, "rb") as f:
        datadict = pickle.load(f, encoding="latin1")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in datadict.items()}


def load_CIFAR_batch(filename):
    """Load one batch file: images as a float array of shape (N, 32, 32, 3), labels of shape (N,)."""
    datadict = _unpickle(filename)
    X = np.asarray(datadict["data"], dtype=np.uint8)
    Y = np.asarray(datadict["labels"])
    # Each row holds the 1024 red values, then the green, then the blue ones.
    X = X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype("float")
    return X, Y


def load_CIFAR10(ROOT):
    """Load all of CIFAR-10: returns X_train, y_train, X_test, y_test."""
    xs = []
    ys = []
    for b in range(1, 6):
        X, Y = load_CIFAR_batch(os.path.join(ROOT, "data_batch_%d" % (b,)))
        xs.append(X)
        ys.append(Y)
    Xtr = np.concatenate(xs)
    Ytr = np.concatenate(ys)
    Xte, Yte = load_CIFAR_batch(os.path.join(ROOT, "test_batch"))
    return Xtr, Ytr, Xte, Yte
