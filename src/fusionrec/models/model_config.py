"""One validation path for every model's parameters: its pydantic config, and errors that name the key and the fix.

Every registered model declares its typed config on the class
(``config_type``, a pydantic model with ``extra="forbid"``); a model that
declares none (a plug-in) is given one made from its constructor's keyword
arguments (:func:`config_of`), so unknown keys are refused the same way.
:func:`validated_config` is the one place a model's parameters are checked,
by :func:`fusionrec.models.check_model_params` (experiment files, before
any data is read), :func:`fusionrec.models.build_model` and
:class:`~fusionrec.models.base.Recommender` itself.

Example:
    >>> from fusionrec.models.baseline_configs import EASEConfig
    >>> validated_config("ease", EASEConfig, {"l_2": 5})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fusionrec.errors.ConfigError: model 'ease' got invalid parameters: l_2: unknown key (did you mean 'l2'?); ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from difflib import get_close_matches
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from fusionrec.errors import ConfigError

STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
"""The ``model_config`` of every model config: unknown keys and non-finite numbers are errors; frozen."""

_NOT_PARAMETERS = ("self", "train_config")


def config_of(cls: type) -> type[BaseModel]:
    """``cls.config_type``, or (a plug-in without one) a strict config of its constructor's keyword arguments."""
    declared: type[BaseModel] | None = getattr(cls, "config_type", None)
    if declared is not None:
        return declared
    signature = inspect.signature(cls.__init__)  # type: ignore[misc]
    fields: dict[str, Any] = {
        name: (Any, ... if parameter.default is inspect.Parameter.empty else parameter.default)
        for name, parameter in signature.parameters.items()
        if name not in _NOT_PARAMETERS
        and not name.startswith("_")
        and parameter.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    config = ConfigDict(extra="allow") if open_ended else ConfigDict(extra="forbid")
    generated: type[BaseModel] = create_model(f"{cls.__name__}Config", __config__=config, **fields)
    return generated


def validated_config(name: str, config_type: type[BaseModel], params: Mapping[str, Any]) -> BaseModel:
    """``params`` validated by ``config_type``; a ConfigError naming model ``name``, each bad key and the fix."""
    try:
        return config_type.model_validate(dict(params))
    except ValidationError as exc:
        raise ConfigError(f"model {name!r} got invalid parameters: {describe_problems(exc, config_type)}") from None


def describe_problems(exc: ValidationError, config_type: type[BaseModel]) -> str:
    """One ``key: got value; what is expected`` per problem (for an unknown key: the closest known ones)."""
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(whole config)"
        if error["type"] == "extra_forbidden":
            allowed = table_keys(config_type, error["loc"][:-1])
            hint = _closest(str(error["loc"][-1]), allowed, _aliases(config_type) if len(error["loc"]) == 1 else {})
            problems.append(f"{key}: unknown key{hint}; allowed here: {', '.join(allowed) or 'none'}")
            continue
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"] or (error["type"] == "value_error" and isinstance(error.get("input"), dict)):
            problems.append(message)  # a rule between options: its message names the values
            continue
        problems.append(f"{key}: got {error.get('input')!r}; {message}")
    return "; ".join(problems)


def _aliases(config_type: type[BaseModel]) -> dict[str, str]:
    """The config's other top-level spellings, ``{alias: "table.key"}`` (its ``key_aliases()``; none by default)."""
    aliases: Callable[[], dict[str, str]] | None = getattr(config_type, "key_aliases", None)
    return aliases() if aliases is not None else {}


def _closest(key: str, allowed: list[str], aliases: Mapping[str, str]) -> str:
    """`` (did you mean 'k'?)`` for the known key or alias closest to ``key``; an alias also names its table key."""
    close = get_close_matches(key, [*allowed, *aliases])
    if not close:
        return ""
    hint = f" (did you mean {close[0]!r}?)"
    return hint + (f", the flat spelling of {aliases[close[0]]!r}" if close[0] in aliases else "")


def table_keys(config_type: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys of the (nested) config table at ``loc``, sorted; empty where ``loc`` is not a table."""
    node: Any = config_type
    for part in loc:
        field = node.model_fields.get(str(part)) if isinstance(node, type) and issubclass(node, BaseModel) else None
        if field is None:
            return []
        node = field.annotation
    return sorted(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []


__all__ = ["STRICT", "config_of", "describe_problems", "table_keys", "validated_config"]
