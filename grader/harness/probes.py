"""Module probes: call into the student's `neural_net.py` on inputs the grader chose.

Runs INSIDE the sandbox, in its own process, before the notebook (so that what is
probed is the submitted module, not one a notebook cell rewrote). It imports nothing
of the grader: the job file names the probes, `inputs.npz` holds their arrays, and
every probe's outputs go to `<out>/probes/<name>.npz` as soon as it finishes, with its
status in `<name>.json`, so a probe that hangs loses only itself.

Nothing written here is trusted: the grader validates every array it reads back.

Usage: python probes.py JOB_JSON
"""

from __future__ import annotations

import contextlib
import importlib
import json
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

PARAM_NAMES = ("W1", "b1", "W2", "b2")
# The probes that take long (the CIFAR-10 training). The plan puts them last; when only they are
# left, this writes LONG_BEGUN(.json) and run.py starts the notebook, which they run beside.
LONG_KINDS = ("cifar_train",)
LONG_BEGUN = "_long"


class ProbeTimeout(BaseException):
    """Raised by the alarm in the probed code; a BaseException so `except Exception` in
    student code does not swallow it."""


def _on_alarm(signum, frame):
    raise ProbeTimeout()


def _not_implemented(what):
    """The error for a starter function that still returns None, marked so that its status says
    "not implemented" apart from a crash (the message is the one students have always read)."""
    error = ValueError(f"{what} is None (not implemented yet?)")
    error.not_implemented = True
    return error


def _float_array(value, what):
    if value is None:
        raise _not_implemented(what)
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not numeric: {type(value).__name__} ({exc})") from None


def _net(module, params):
    """A student TwoLayerNet carrying exactly the grader's parameters."""
    hidden, inputs = params["W1"].shape
    net = module.TwoLayerNet(inputs, hidden, params["W2"].shape[0])
    net.params = {name: params[name].copy() for name in PARAM_NAMES}
    return net


def _params_out(net, prefix="params"):
    params = getattr(net, "params", None)
    if not isinstance(params, dict):
        raise ValueError(f"net.params is {type(params).__name__}, not a dict")
    return {f"{prefix}.{k}": _float_array(params.get(k), f"params[{k!r}]") for k in PARAM_NAMES}


def _loss_out(result, what):
    if not isinstance(result, tuple) or len(result) != 2:
        raise ValueError(f"{what} returned {type(result).__name__}, expected a (loss, grads) tuple")
    return result


def _numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        plus = f()
        x[ix] = old - h
        minus = f()
        x[ix] = old
        grad[ix] = (plus - minus) / (2 * h)
    return grad


# Each probe kind takes the module, its arrays and its options, and returns named arrays.


def probe_scores(module, a, o):
    """Scores of a net with given parameters: loss(X) with y=None."""
    return {"scores": _float_array(_net(module, a["params"]).loss(a["X"]), "loss(X)")}


def probe_loss(module, a, o):
    """Loss and gradients of a net with given parameters, at a given reg."""
    loss, grads = _loss_out(_net(module, a["params"]).loss(a["X"], a["y"], reg=o["reg"]), "loss")
    if not isinstance(grads, dict):
        raise ValueError(f"loss returned grads of type {type(grads).__name__}, not a dict")
    out = {"loss": _float_array(loss, "the loss")}
    out.update({f"grads.{k}": _float_array(grads.get(k), f"grads[{k!r}]") for k in PARAM_NAMES})
    return out


def probe_toy(module, a, o):
    """One part of the notebook's toy cells, verbatim: seed-0 model, seed-1 data, then
    the scores, the loss with analytic and numerical gradients, or the training run."""

    def init_toy_model():
        np.random.seed(0)
        return module.TwoLayerNet(4, 10, 3, std=1e-1)

    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    net = init_toy_model()
    if o["part"] == "scores":
        return {"scores": _float_array(net.loss(X), "loss(X)")}
    if o["part"] == "train":
        stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
        return _stats_out(stats)
    loss, grads = _loss_out(net.loss(X, y, reg=0.05), "loss")
    out = {"loss": _float_array(loss, "the loss")}
    for name in PARAM_NAMES:
        out[f"grads.{name}"] = _float_array(grads.get(name), f"grads[{name!r}]")
        out[f"numgrads.{name}"] = _numerical_gradient(lambda: float(net.loss(X, y, reg=0.05)[0]), net.params[name])
    return out


def _stats_out(stats):
    if not isinstance(stats, dict):
        raise ValueError(f"train returned {type(stats).__name__}, not a dict of histories")
    return {
        f"stats.{key}": _float_array(stats.get(key), f"stats[{key!r}]").reshape(-1)
        for key in ("loss_history", "train_acc_history", "val_acc_history")
    }


def probe_train(module, a, o):
    """Train a net from given parameters on given data, after np.random.seed(seed)."""
    net = _net(module, a["params"])
    np.random.seed(o["seed"])
    stats = net.train(a["X"], a["y"], a["X_val"], a["y_val"], verbose=False, **o["settings"])
    return {**_stats_out(stats), **_params_out(net)}


def probe_cifar_train(module, a, o):
    """Like probe_train, on the CIFAR-10 split the grader prepared (read-only memory maps)."""
    data = Path(o["data_dir"])
    # mmap_mode="c": pages are shared between parallel runs; a write stays private.
    X, y, X_val, y_val = (
        np.load(data / f"{name}.npy", mmap_mode="c") for name in ("X_train", "y_train", "X_val", "y_val")
    )
    return probe_train(module, {**a, "X": X, "y": y, "X_val": X_val, "y_val": y_val}, o)


def probe_function(module, a, o):
    """A module-level loss function (MSE_loss or softmax_loss) on given scores and labels."""
    function = getattr(module, o["function"], None)
    if function is None:
        raise ValueError(f"the module has no function {o['function']}")
    result = function(a["x"].copy(), a["y"].copy())
    if not isinstance(result, tuple) or len(result) != 2:
        raise ValueError(f"{o['function']} returned {type(result).__name__}, expected (loss, dx)")
    out = {"loss": _float_array(result[0], "the loss"), "dx": _float_array(result[1], "dx")}
    if o.get("numgrad"):
        x = a["x"].copy()
        out["numdx"] = _numerical_gradient(lambda: float(function(x.copy(), a["y"].copy())[0]), x)
    return out


def probe_predict(module, a, o):
    """Labels predicted by a net with given parameters."""
    return {"labels": _float_array(_net(module, a["params"]).predict(a["X"]), "predict(X)")}


KINDS = {
    "scores": probe_scores,
    "loss": probe_loss,
    "toy": probe_toy,
    "train": probe_train,
    "cifar_train": probe_cifar_train,
    "function": probe_function,
    "predict": probe_predict,
}


def _arrays_for(name, inputs):
    """The probe's input arrays; `params.W1` etc. are gathered into a `params` dict."""
    arrays, params = {}, {}
    prefix = f"{name}/"
    for key in inputs.files:
        if key.startswith(prefix):
            arg = key[len(prefix) :]
            if arg.startswith("params."):
                params[arg[len("params.") :]] = inputs[key]
            else:
                arrays[arg] = inputs[key]
    if params:
        arrays["params"] = params
    return arrays


def _trimmed_traceback(limit=4000):
    text = "".join(traceback.format_exception(*sys.exc_info()))
    return text if len(text) <= limit else "...\n" + text[-limit:]


@contextlib.contextmanager
def _alarm(seconds):
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _write_status(out_dir, name, status):
    tmp = out_dir / f".{name}.json.tmp"
    tmp.write_text(json.dumps(status))
    tmp.replace(out_dir / f"{name}.json")


def main(job_path):
    job = json.loads(Path(job_path).read_text())
    workspace = Path(job["workspace"])
    out_dir = Path(job["out_dir"]) / "probes"
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = np.load(job["probe_inputs"], allow_pickle=False)
    sys.path.insert(0, str(workspace))
    module_name = job["module"][: -len(".py")].replace("/", ".")
    try:
        with _alarm(job["probe_timeout_each"]):
            module = importlib.import_module(module_name)
    except BaseException as exc:  # the module itself is broken: every probe reports it
        status = {
            "status": "timeout" if isinstance(exc, ProbeTimeout) else "error",
            "error": _trimmed_traceback(),
            "seconds": 0.0,
        }
        _write_status(out_dir, "_import", status)
        return 0
    _write_status(out_dir, "_import", {"status": "ok", "seconds": 0.0})
    for probe in job["probes"]:
        if probe["kind"] in LONG_KINDS and not (out_dir / f"{LONG_BEGUN}.json").exists():
            _write_status(out_dir, LONG_BEGUN, {"status": "ok"})  # run.py starts the notebook now
        name, started = probe["name"], time.monotonic()
        status = {"status": "ok"}
        try:
            with _alarm(probe.get("timeout", job["probe_timeout_each"])):
                outputs = KINDS[probe["kind"]](module, _arrays_for(name, inputs), probe["options"])
            np.savez(out_dir / f"{name}.npz", **outputs)
        except ProbeTimeout:
            status = {"status": "timeout", "error": "the probe ran out of time"}
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code too
            status = {"status": "error", "error": _trimmed_traceback()}
            if getattr(exc, "not_implemented", False) is True:
                status["not_implemented"] = True
        status["seconds"] = round(time.monotonic() - started, 3)
        _write_status(out_dir, name, status)
        print(f"probe {name}: {status['status']} ({status['seconds']} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
