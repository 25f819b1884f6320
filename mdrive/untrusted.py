"""Reading files as the untrusted input they are: a config or potential YAML from a colleague, a results folder
downloaded from elsewhere, mdrive's own JSON after someone edited it. Each reader bounds size and nesting,
refuses YAML aliases (a "billion laughs" expands to gigabytes), non-UTF-8 text and numbers too long to parse,
and answers every such file with one line (InputError) that names it, instead of a traceback or a hang."""
from __future__ import annotations

import json
from pathlib import Path

from mdrive.errors import InputError

MAX_BYTES = 20_000_000  # far above any file mdrive writes or reads as text
MAX_DEPTH = 40  # mappings and lists inside each other


def text(path: Path, what: str, max_bytes: int = MAX_BYTES) -> str:
    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(f"{path} is a folder, not {what}")
        if path.stat().st_size > max_bytes:
            raise InputError(f"{path} is over {max_bytes // 1_000_000} MB: not {what}")
        return path.read_bytes().decode()
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text: not {what}") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read it ({err.strerror or type(err).__name__})") from None


def read_json(path: Path, what: str, kind: type = dict):
    """A JSON file that must hold a `kind` (dict or list)."""
    try:
        value = json.loads(text(path, what))
    except (ValueError, RecursionError) as err:  # also integers of thousands of digits (ValueError)
        raise InputError(f"{path} is not {what}: {_first_line(err) or 'nested too deep'}") from None
    if not isinstance(value, kind):
        raise InputError(f"{path} is not {what}: it holds a JSON {type(value).__name__}, not an "
                         f"{'object' if kind is dict else 'array'}")
    if depth(value) > MAX_DEPTH:
        raise InputError(f"{path} is not {what}: nested more than {MAX_DEPTH} deep")
    return value


def read_yaml(path: Path, what: str, max_bytes: int = 1_000_000):
    """A small YAML file's content (None when empty): no aliases, bounded nesting, safe types only."""
    import yaml

    body = text(path, what, max_bytes)
    try:
        nesting = 0
        for event in yaml.parse(body, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise InputError(f"{path}: YAML aliases (*name) are not accepted in {what}; write the values out")
            nesting += isinstance(event, yaml.CollectionStartEvent) - isinstance(event, yaml.CollectionEndEvent)
            if nesting > MAX_DEPTH:
                raise InputError(f"{path}: nested more than {MAX_DEPTH} deep: not {what}")
        return yaml.safe_load(body)
    except (yaml.YAMLError, RecursionError, ValueError) as err:
        raise InputError(f"{path}: not valid YAML ({_first_line(err) or 'nested too deep'})") from None


def depth(value) -> int:
    """How deep lists and mappings nest in `value` (counting stops past MAX_DEPTH)."""
    level, items = 0, [value]
    while level <= MAX_DEPTH:
        containers = [x for x in items if isinstance(x, dict | list)]
        if not containers:
            break
        level += 1
        items = [v for x in containers for v in (x.values() if isinstance(x, dict) else x)]
    return level


def _first_line(err: Exception) -> str:
    lines = str(err).splitlines()
    return lines[0] if lines else ""
