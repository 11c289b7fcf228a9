"""Faster construction of the immutable objects made many times a call: `fills_dict` for
frozen dataclasses, `named_from_tuple` for NamedTuples.

A frozen dataclass's generated `__init__` sets each field with `object.__setattr__`, a
function call per field. For `Turn` (30 a call while reading), `Evidence` and `Finding`
(several a call while auditing) that was a few percent of the work. `fills_dict` gives such
a class an `__init__` that stores the fields in the instance's `__dict__` instead, 2-3x
faster. The class stays a frozen dataclass: eq, order, hash, repr, `dataclasses.replace`
and pickling are the dataclass's own, and setting a field afterwards still raises.

The price: on CPython 3.11 an instance whose `__dict__` was touched keeps its attributes
in a real dict, and reading them is ~3x slower than from the inline values a plain
`__init__` leaves. Use it on classes made far more often than their fields are read:
for `Turn` the batch counted 1.2% fewer instructions a call while the audit alone counted
0.95% more (672a928, 2026-11-24; bench/README.md, "What was tried"); measure before
adding a class.

    @fills_dict
    @dataclass(frozen=True, init=False)
    class Turn: ...

The `__init__` is written from the class's fields, as `dataclasses` writes its own, so it
cannot drift from them; `tests/test_findings.py` checks each class that uses it.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T", bound=type)

# named_from_tuple(Hit, (turn, start, end)): a NamedTuple instance made from a plain tuple
# in C, without the Python-level __new__ a NamedTuple class has. For the small tuples made
# many times a call (hits, marks, what a turn yields).
named_from_tuple = tuple.__new__


def fills_dict(cls: T) -> T:
    """Give a frozen dataclass declared with `init=False` an `__init__` that takes its
    fields in order, with their defaults, and fills `self.__dict__` with them."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or params.init:
        raise TypeError(f"{cls.__name__}: fills_dict needs @dataclass(frozen=True, init=False)")
    if "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: fills_dict needs instances with a __dict__")
    defaults: dict[str, object] = {}
    arguments, lines = [], []
    for field in dataclasses.fields(cls):
        if field.name in ("_self", "_fields"):
            raise TypeError(f"{cls.__name__}.{field.name}: fills_dict uses that name itself")
        if (not field.init or field.kw_only is True
                or field.default_factory is not dataclasses.MISSING):
            raise TypeError(f"{cls.__name__}.{field.name}: fills_dict takes plain fields only "
                            "(no init=False, kw_only or default_factory)")
        if field.default is dataclasses.MISSING:
            arguments.append(field.name)
        else:
            defaults[f"_default_{field.name}"] = field.default
            arguments.append(f"{field.name}=_default_{field.name}")
        lines.append(f"    _fields[{field.name!r}] = {field.name}")
    source = (f"def __init__(_self, {', '.join(arguments)}):\n"
              "    _fields = _self.__dict__\n" + "\n".join(lines) + "\n")
    namespace: dict[str, object] = {}
    exec(source, defaults, namespace)  # the source holds only the class's field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    init.__module__ = cls.__module__  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]
    return cls
