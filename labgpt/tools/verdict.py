"""The grader's verdict, reached outside the student's kernel: record there, replay here.

A checker (:mod:`labgpt.checks`) calls the learner's function on inputs it draws and compares
the results with a reference. Run in the student's kernel, the comparison is worth nothing: the
student's code can patch the checker, swallow its exception or rewrite the cell. So grading
splits a check in two:

- **record**, in the kernel: the checker runs on inputs drawn from a seed the grader chose for
  this run, and every call of the learner's function is logged (a digest of its arguments, its
  result or the exception it raised, the arguments again if it changed them in place) to a
  file of plain data (safetensors, with the structure as JSON in its header: nothing executable);
- **replay**, in the grader's own process: the same checker runs again on the same seed, and
  each call of the learner's function is answered from the log, after checking that the
  grader's own arguments have the digest the kernel saw. The checker's verdict here is the
  verdict. A log that does not match (missing, altered, cut short) fails the check.

While the learner's function runs in the kernel, the package functions its exercise asks the
learner to write (the checker's ``reimplements``) are disabled: their code is swapped for one
that raises, so a solution that merely calls them gets an error, however it got hold of them.
Copying their *source* is not detected here: the book prints the solutions too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import inspect
import io
import json
import random
import threading
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

MAX_BYTES = 64 << 20  # a log larger than this is refused unread
MAX_ITEMS = 200_000  # containers and scalars in one log
MAX_DEPTH = 40


# --- plain data: what crosses from the kernel to the grader ---------------------------------


class Unreadable:
    """Stands for a value that is not plain data (a module, a function, an object of the
    learner's own class): the checker sees an object of a class with the original type's name,
    so its message ("expected a tensor, got Foo") stays right."""


def _placeholder(type_name: str) -> Unreadable:
    name = type_name if type_name.isidentifier() else "object"
    return type(name, (Unreadable,), {})()


class _Encoder:
    def __init__(self, digest_only: bool = False):
        self.tensors: list[torch.Tensor] = []
        self.items = 0
        self.digest_only = digest_only

    def tensor(self, t: torch.Tensor) -> dict:
        self.tensors.append(t.detach().cpu().clone().contiguous())
        node = {"T": len(self.tensors) - 1}
        if t.requires_grad:
            node["rg"] = True
            if t.grad is not None:
                node["grad"] = self.tensor(t.grad)
        return node

    def __call__(self, obj, depth: int = 0):
        self.items += 1
        if self.items > MAX_ITEMS or depth > MAX_DEPTH:
            raise ValueError("too much data (or nested too deep) to record")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj if abs(obj) < 2**53 else {"I": str(obj)}
        if isinstance(obj, float):
            return {"F": repr(obj)}
        if isinstance(obj, np.generic):
            return self(obj.item(), depth + 1)
        if torch.is_tensor(obj):
            return self.tensor(obj)
        if isinstance(obj, np.ndarray) and obj.dtype != object:
            return {"A": self.tensor(torch.from_numpy(np.ascontiguousarray(obj)))}
        if isinstance(obj, bytes):
            return {"B": obj.hex()}
        if isinstance(obj, (list, tuple, set, frozenset)):
            items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
            tag = {list: "L", tuple: "U", set: "S", frozenset: "Z"}.get(type(obj), "U")
            return {tag: [self(x, depth + 1) for x in items]}
        if isinstance(obj, dict):
            return {"D": [[self(k, depth + 1), self(v, depth + 1)] for k, v in obj.items()]}
        if isinstance(obj, random.Random):
            return {"R": self(obj.getstate(), depth + 1)}
        kind = type(obj)
        name = f"{kind.__module__}:{kind.__qualname__}"
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {"C": name, "f": {f.name: self(getattr(obj, f.name), depth + 1)
                                     for f in dataclasses.fields(obj)}}
        if self.digest_only and isinstance(obj, torch.nn.Module):
            return {"M": name, "s": self(dict(obj.state_dict()), depth + 1)}
        if callable(obj):
            return {"X": getattr(obj, "__qualname__", kind.__qualname__), "fn": True}
        return {"X": kind.__qualname__}


def digest(obj) -> str:
    """A fingerprint of a value (the arguments of one call): its structure and every byte of
    its tensors. Models count by their weights, functions by their names."""
    encode = _Encoder(digest_only=True)
    h = hashlib.sha256(json.dumps(encode(obj), sort_keys=True).encode())
    for t in encode.tensors:
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _decode(node, tensors: dict[str, torch.Tensor], depth: int = 0):
    if depth > MAX_DEPTH:
        raise ValueError("nested too deep")
    if node is None or isinstance(node, (bool, str, int)):
        return node
    if not isinstance(node, dict) or len(node) == 0:
        raise ValueError(f"not a recorded value: {type(node).__name__}")

    def each(values):
        if not isinstance(values, list):
            raise ValueError("a recorded container is not a list")
        return [_decode(v, tensors, depth + 1) for v in values]

    if "T" in node:
        t = tensors[f"t{int(node['T'])}"].clone()
        if node.get("rg") and t.is_floating_point():
            t.requires_grad_(True)
            if "grad" in node:
                t.grad = _decode(node["grad"], tensors, depth + 1).detach()
        return t
    if "I" in node:
        return int(str(node["I"])[:400])
    if "F" in node:
        return float(str(node["F"])[:64])
    if "A" in node:
        return _decode(node["A"], tensors, depth + 1).detach().numpy()
    if "B" in node:
        return bytes.fromhex(str(node["B"]))
    for tag, kind in (("L", list), ("U", tuple), ("S", set), ("Z", frozenset)):
        if tag in node:
            return kind(each(node[tag]))
    if "D" in node:
        pairs = node["D"]
        if not (isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2
                                                for p in pairs)):
            raise ValueError("a recorded dict is not a list of pairs")
        return {_decode(k, tensors, depth + 1): _decode(v, tensors, depth + 1)
                for k, v in pairs}
    if "R" in node:
        rng = random.Random()
        rng.setstate(_decode(node["R"], tensors, depth + 1))
        return rng
    if "C" in node:
        return _dataclass(str(node["C"]), {k: _decode(v, tensors, depth + 1)
                                           for k, v in dict(node["f"]).items()})
    if "X" in node:
        return _placeholder(str(node["X"]).rsplit(".", 1)[-1][:80])
    raise ValueError(f"unknown recorded value {sorted(node)[:3]}")


def _dataclass(name: str, fields: dict):
    """Rebuild a dataclass of labgpt's (and only labgpt's: importing a module named in the
    log must not run anything else); any other class becomes a placeholder."""
    module, _, qualname = name.partition(":")
    if (module == "labgpt" or module.startswith("labgpt.")) and "__main__" not in module:
        kind = importlib.import_module(module)
        for part in qualname.split("."):
            kind = getattr(kind, part, None)
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            obj = object.__new__(kind)
            for f in dataclasses.fields(kind):
                if f.name not in fields:
                    raise ValueError(f"{qualname} without its field {f.name}")
                object.__setattr__(obj, f.name, fields[f.name])
            return obj
    return _placeholder(qualname.rsplit(".", 1)[-1])


def save(path: Path, data: dict, tensors: list[torch.Tensor]) -> None:
    save_file({f"t{i}": t for i, t in enumerate(tensors)}, str(path),
              metadata={"log": json.dumps(data)})


def load(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read a log the kernel wrote, as data only; ValueError if it is not one."""
    path = Path(path)
    if not path.is_file() or path.is_symlink():
        raise ValueError("no log was written")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"the log is larger than {MAX_BYTES >> 20} MB")
    try:
        with safe_open(str(path), framework="pt") as f:
            data = json.loads((f.metadata() or {})["log"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as err:
        raise ValueError(f"the log is unreadable ({type(err).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("calls"), list):
        raise ValueError("the log is malformed")
    return data, tensors


# --- disabling the package's answers while the learner's code runs --------------------------


_disabled: list[tuple] = []  # (function, original code) or (owner, attribute, original)


def _resolve(name: str):
    """``"pkg.module.attr"`` or ``"pkg.module.Class.attr"`` -> (owner, attribute, object)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:-1]:
            owner = getattr(owner, part)
        return owner, parts[-1], getattr(owner, parts[-1])
    raise ValueError(f"cannot find {name}")


def _raising_code(fn: types.FunctionType) -> types.CodeType:
    """Code that raises, with as many free variables as ``fn``'s closure (a function's code
    can only be swapped for code with the same count)."""
    free = fn.__code__.co_freevars
    message = (f"{fn.__module__}.{fn.__qualname__} is what this exercise asks you to write "
               "yourself: the grader disables it while your solution runs")
    source = (f"def _outer({', '.join(free)}):\n"
              f"    def disabled(*_args, **_kwargs):\n"
              f"        {'; '.join(free) or 'pass'}\n"
              f"        raise PermissionError({message!r})\n"
              f"    return disabled\n")
    namespace: dict = {}
    exec(compile(source, "<disabled>", "exec"), namespace)  # noqa: S102 (our own text)
    return namespace["_outer"](*([None] * len(free))).__code__


def disable(names: list[str]) -> None:
    """Make each named function raise when called, wherever it is referenced from: a Python
    function's code is swapped (every alias sees it), anything else is replaced on its
    owner. :func:`enable` undoes it."""
    for name in names:
        owner, attribute, obj = _resolve(name)
        fn = inspect.unwrap(obj) if isinstance(obj, types.FunctionType) else obj
        for target in {id(obj): obj, id(fn): fn}.values():
            if (isinstance(target, types.FunctionType)
                    and target.__code__.co_filename != "<disabled>"):  # not twice
                _disabled.append((target, target.__code__))
                target.__code__ = _raising_code(target)
        if not isinstance(obj, types.FunctionType):
            def refused(*args, _name=name, **kwargs):
                raise PermissionError(f"{_name} is what this exercise asks you to write "
                                      "yourself: the grader disables it while your solution runs")
            _disabled.append((owner, attribute, obj))
            setattr(owner, attribute, refused)


def enable() -> None:
    while _disabled:
        entry = _disabled.pop()
        if len(entry) == 2:
            entry[0].__code__ = entry[1]
        else:
            setattr(*entry)


def reset_kernel() -> None:
    """Before a check judged inside the kernel (a check cell without an ``@exercise`` checker):
    undo what the learner's code can do to make a failing cell look passed. IPython's methods
    overridden on the shell or the kernel object are removed (``showtraceback``,
    ``run_cell``, ...), custom exception handlers, input and AST transformers, event
    callbacks and ``sys.excepthook`` are reset, and the checkers are imported afresh. Code
    that survives this (a patched builtin, a thread) can still fool such a check: the report
    marks it ``kernel``."""
    import sys

    from IPython import get_ipython

    sys.excepthook = sys.__excepthook__
    shell = get_ipython()
    if shell is not None:
        for obj in (o for o in (shell, getattr(shell, "kernel", None)) if o is not None):
            for name in [n for n in vars(obj) if callable(getattr(type(obj), n, None))]:
                delattr(obj, name)
        shell.custom_exceptions = ()
        shell.input_transformers_post.clear()
        shell.ast_transformers.clear()
        for callbacks in shell.events.callbacks.values():
            callbacks.clear()
    for name in sorted(m for m in sys.modules if m.startswith("labgpt.checks.")):
        importlib.reload(sys.modules[name])
    importlib.reload(sys.modules["labgpt.checks"])


# --- record, in the kernel --------------------------------------------------------------------


def _rng_states():
    return torch.get_rng_state(), random.getstate(), np.random.get_state()


def _set_rng_states(states) -> None:
    torch.set_rng_state(states[0])
    random.setstate(states[1])
    np.random.set_state(states[2])


class _Recorder:
    """Stands for one of the learner's functions: calls it with the exercise's package
    functions disabled and the global random state put back afterwards (so the checker draws
    the same inputs here and in the grader), and logs the call."""

    def __init__(self, fn: Callable, label: str, log: list, encode: _Encoder, names: list[str]):
        self.fn, self.label, self.log, self.encode, self.names = fn, label, log, encode, names

    def __call__(self, *args, **kwargs):
        before = digest((args, kwargs))
        call = {"fn": self.label, "args": before}
        self.log.append(call)
        states = _rng_states()
        disable(self.names)
        try:
            out = self.fn(*args, **kwargs)
        except BaseException as err:
            call["raised"] = [type(err).__name__, str(err)[:500]]
            raise
        else:
            call["out"] = self._encode(out)
            return out
        finally:
            enable()
            _set_rng_states(states)
            if digest((args, kwargs)) != before:  # changed in place: the grader repeats it
                call["after"] = self._encode([list(args), kwargs])

    def _encode(self, value):
        try:
            return self.encode(value)
        except ValueError as err:
            return {"X": f"unrecordable: {err}"}


def _call_checker(checker: Callable, subject, seed: int | None) -> None:
    if seed is not None and "seed" in inspect.signature(checker).parameters:
        checker(subject, seed=seed)
    else:
        checker(subject)


def record(checker: str, subject, seed: int, names: list[str], path: str) -> None:
    """Kernel side: run ``labgpt.checks.<checker>`` on ``subject`` (the learner's function,
    or a dataclass whose callable fields are the learner's) with ``seed``, logging every call
    of the learner's code to ``path``. The checker's own verdict here is ignored."""
    import labgpt.checks as checks

    log: list = []
    encode = _Encoder()
    wrapped, shape = subject, {"value": None}
    if dataclasses.is_dataclass(subject) and not isinstance(subject, type):
        wrapped, shape = _wrap_dataclass(subject, log, encode, names)
    elif callable(subject):
        wrapped, shape = _Recorder(subject, "fn", log, encode, names), {"function": True}
    else:
        shape = {"value": encode(subject)}
    stopped = ""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            _call_checker(getattr(checks, checker), wrapped, seed)
    except BaseException as err:  # noqa: BLE001 (a failing check is a normal outcome here)
        stopped = f"{type(err).__name__}: {err}"[:300]
    save(Path(path), {"subject": shape, "calls": log, "stopped": stopped}, encode.tensors)


def _wrap_dataclass(subject, log, encode, names):
    fields, callables = {}, {}
    for f in dataclasses.fields(subject):
        value = getattr(subject, f.name)
        if callable(value) and not isinstance(value, type):
            callables[f.name] = _Recorder(value, f.name, log, encode, names)
        else:
            fields[f.name] = encode(value)
    wrapped = object.__new__(type(subject))
    for f in dataclasses.fields(subject):
        object.__setattr__(wrapped, f.name, callables.get(f.name, getattr(subject, f.name)))
    kind = type(subject)
    return wrapped, {"dataclass": f"{kind.__module__}:{kind.__qualname__}", "fields": fields,
                     "callables": sorted(callables)}


# --- replay, in the grader ------------------------------------------------------------------


REPLAY_LOCK = threading.Lock()


class LogMismatch(Exception):
    """The kernel's log does not describe this check (altered, cut short, other inputs)."""


def _exception(name: str, message: str) -> BaseException:
    """The learner's exception, rebuilt by name for the checker (which may expect one)."""
    import builtins

    kind = getattr(builtins, name, None)
    if name == "UnicodeDecodeError":
        return UnicodeDecodeError("utf-8", b"", 0, 1, message)
    if isinstance(kind, type) and issubclass(kind, Exception):
        with contextlib.suppress(Exception):
            return kind(message)
    return type(name if name.isidentifier() else "Error", (Exception,), {})(message)


def _restore(target, value) -> None:
    """Repeat an in-place change the learner's function made to an argument."""
    if torch.is_tensor(target) and torch.is_tensor(value):
        if target.shape != value.shape or target.dtype != value.dtype:
            raise LogMismatch("an argument changed shape or type in place")
        with torch.no_grad():
            target.copy_(value)
        if target.requires_grad:
            target.grad = None if value.grad is None else value.grad.clone()
    elif isinstance(target, list) and isinstance(value, (list, tuple)):
        if len(target) == len(value) and all(torch.is_tensor(t) for t in target):
            for t, v in zip(target, value, strict=True):
                _restore(t, v)
        else:
            target[:] = value
    elif isinstance(target, dict) and isinstance(value, dict):
        for key in target.keys() & value.keys():
            if torch.is_tensor(target[key]) or isinstance(target[key], (list, dict)):
                _restore(target[key], value[key])
    elif isinstance(target, tuple) and isinstance(value, (list, tuple)) and \
            len(target) == len(value):
        for t, v in zip(target, value, strict=True):
            _restore(t, v)
    elif isinstance(target, random.Random) and isinstance(value, random.Random):
        target.setstate(value.getstate())


class _Replayer:
    def __init__(self, label: str, calls: list, tensors: dict, position: list[int]):
        self.label, self.calls, self.tensors, self.position = label, calls, tensors, position

    def __call__(self, *args, **kwargs):
        i = self.position[0]
        if i >= len(self.calls):
            raise LogMismatch("the kernel's log stops before this call")
        call = self.calls[i]
        self.position[0] += 1
        if not isinstance(call, dict) or call.get("fn") != self.label or \
                call.get("args") != digest((args, kwargs)):
            raise LogMismatch("the kernel's log shows a call on other inputs")
        try:
            if "after" in call:
                after = _decode(call["after"], self.tensors)
                if len(after[0]) != len(args):
                    raise ValueError("the arguments changed in number")
                for target, value in zip(args, after[0], strict=True):
                    _restore(target, value)
                _restore(kwargs, after[1])
            out = _decode(call["out"], self.tensors) if "out" in call else None
        except (ValueError, KeyError, TypeError) as err:
            raise LogMismatch(f"unreadable entry ({type(err).__name__})") from None
        if "raised" in call:
            name, message = (str(v) for v in call["raised"][:2])
            raise _exception(name, message)
        if "out" not in call:
            raise LogMismatch("the kernel's log has no result for this call")
        return out


def replay(checker: Callable, path: Path, seed: int) -> str:
    """Grader side: run ``checker`` on ``seed``, the learner's calls answered from the log at
    ``path``; returns "" when it passes, else why not (the checker's own message)."""
    try:
        data, tensors = load(path)
        calls, shape, position = data["calls"], data.get("subject") or {}, [0]
        if shape.get("function"):
            subject = _Replayer("fn", calls, tensors, position)
        elif "dataclass" in shape:
            fields = {k: _decode(v, tensors) for k, v in dict(shape["fields"]).items()}
            for name in shape.get("callables", []):
                fields[str(name)] = _Replayer(str(name), calls, tensors, position)
            subject = _dataclass(str(shape["dataclass"]), fields)
        else:
            subject = _decode(shape.get("value"), tensors)
    except Exception as err:  # noqa: BLE001 (whatever the kernel wrote, it is not a log)
        return f"the check could not be replayed: {err}"[:300]
    try:  # one replay at a time: checkers seed torch's global generator, and stdout is shared
        with REPLAY_LOCK, contextlib.redirect_stdout(io.StringIO()):
            _call_checker(checker, subject, seed)
    except LogMismatch as err:
        return f"the check could not be replayed: {err}"
    except AssertionError as err:  # CheckFailed, or an assert in the checker
        return str(err) or "the check failed"
    except Exception as err:  # the learner's exception, replayed, or one it caused
        return f"{type(err).__name__}: {err}"[:300]
    return ""
