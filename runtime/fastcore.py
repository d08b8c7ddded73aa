"""pydantic-core's compiled JSON reader and validators, without importing the ``pydantic_core`` package.

``import pydantic_core`` runs the package's ``__init__``, which imports ``pydantic_core.core_schema`` — a few
hundred ``TypedDict`` classes that describe schemas for type checkers (and ``typing_extensions``): ~8-10 ms of CPU
on every cold start of a function that uses pydantic-core at all. The ingestion functions and the webhook read
JSON with ``from_json`` (the SNS envelope, DynamoDB's answers) and validate SES records with a ``SchemaValidator``;
all of that lives in the compiled module ``pydantic_core._pydantic_core``, which needs none of the package's Python.

So it is loaded here by itself, once, from the package's folder, and registered under its own name: a later
``import pydantic_core`` (the API routes' pydantic models) runs the package's ``__init__``, whose
``from ._pydantic_core import ...`` finds that module and shares it — one module, the same classes and functions.
When the package is already imported, its module is used as it is. Nothing of pydantic-core is changed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from typing import TYPE_CHECKING, Any

COMPILED = "pydantic_core._pydantic_core"


def _compiled() -> Any:
    loaded = sys.modules.get(COMPILED)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("pydantic_core")  # finds the package without running its __init__
    for folder in (package.submodule_search_locations or []) if package is not None else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_pydantic_core" + suffix)
            if not os.path.isfile(path):
                continue
            spec = importlib.util.spec_from_file_location(COMPILED, path)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            sys.modules[COMPILED] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[COMPILED]
                raise
            return module
    import pydantic_core  # a layout not recognised above: the ordinary import

    return sys.modules.get(COMPILED, pydantic_core)


if TYPE_CHECKING:
    from pydantic_core import SchemaSerializer, SchemaValidator, ValidationError, from_json
else:
    _core = _compiled()
    SchemaSerializer = _core.SchemaSerializer
    SchemaValidator = _core.SchemaValidator
    ValidationError = _core.ValidationError
    from_json = _core.from_json

__all__ = ["COMPILED", "SchemaSerializer", "SchemaValidator", "ValidationError", "from_json"]
