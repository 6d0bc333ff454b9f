"""Reading a YAML file the user wrote, within limits that keep a hostile or broken file from
hanging ionsim or exhausting memory.

A scenario is a few kB of YAML. :func:`load_yaml` refuses, each in well under a second and in
memory proportional to the (capped) file size:

- a file larger than :data:`MAX_FILE_BYTES`, before it is parsed, and anything that is not a
  regular file (a FIFO would block, /dev/zero never ends);
- more than :data:`MAX_NODES` values, nesting deeper than :data:`MAX_DEPTH`, duplicate keys
  in a mapping (YAML would silently keep the last; both line numbers are given) and numbers
  of more than :data:`MAX_NUMBER_CHARS` characters, all found by walking the parser's
  events before any node tree is built (a recursive composer would overflow the stack);
- in a document with aliases, an expansion to more than :data:`MAX_EXPANDED` nodes and
  scalar characters (the "billion laughs" bomb: nine levels of nine aliases is 9^9 values
  in a 1 kB file), counted on the composed node graph with memoisation, so the count costs
  one visit per node, and aliases that refer to themselves.

Anchors and aliases themselves are fine: the shipped scenarios repeat a membrane with
``- &membrane ...`` / ``- *membrane``, which expands to a few dozen values.

The C parser (``yaml.CSafeLoader``, libyaml) is used where PyYAML was built with it; the
pure-Python one is 20-50 times slower. Either way only YAML's standard tags are constructed.

:func:`brief` renders any value for an error message in at most about 80 characters, on one
line, whatever its size or sharing (reprlib, bounded in depth and width).
"""

from __future__ import annotations

import reprlib
from pathlib import Path

import yaml

from .errors import ScenarioError

MAX_FILE_BYTES = 1_000_000  # a scenario is a few kB; 1 MB leaves room for long comments
MAX_DEPTH = 32  # a scenario nests about 5 deep (membranes[0].channels[1].barriers.Na+)
MAX_NODES = 100_000  # values in the file, before expansion: a scenario has a few hundred
MAX_EXPANDED = 1_000_000  # nodes + scalar characters after alias expansion
MAX_NUMBER_CHARS = 100  # an int or float scalar longer than this is not a physical value
# A resolved scenario (run_dir/scenario.yaml, written by ionsim) lists every channel of a
# grid: up to 10 000 (sim.scenario.MAX_CHANNELS) at about 90 bytes and 10 values each.
RESOLVED_MAX_BYTES = 2_000_000
RESOLVED_MAX_NODES = 200_000

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 50
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 4
BRIEF_CHARS = 80


def brief(value, limit: int = BRIEF_CHARS) -> str:
    """repr(value) cut to at most `limit` characters, on one line.

    Bounded work for any value (reprlib looks at 4 items per level, 2 levels deep), so a
    huge or alias-shared structure is never rendered in full."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a value whose repr itself fails: name its type only
        text = f"<{type(value).__name__}>"
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def text(value, limit: int = 60) -> str:
    """A value as it was written, for messages: a short printable string as is, anything
    else (long, multi-line, not a string) through :func:`brief`."""
    if isinstance(value, str) and len(value) <= limit and value.isprintable():
        return value
    return brief(value)


def key_name(key) -> str:
    """A mapping key as it appears in a key path (``membranes[0].channels``)."""
    if isinstance(key, str) and 0 < len(key) <= 40 and key.isprintable() and \
            not any(c in key for c in ".[]"):
        return key
    return brief(key, 40)


def join(prefix: str, key) -> str:
    """Key path of `key` (a mapping key, or an int list index) under `prefix`."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{prefix}[{key}]"
    name = key_name(key)
    return f"{prefix}.{name}" if prefix else name


def load_yaml(path: str | Path, source: str | None = None, *,
              max_bytes: int = MAX_FILE_BYTES, max_nodes: int = MAX_NODES):
    """Parse the YAML file at `path` into Python data, within the module's limits.

    `source` names the file in messages (default: `path`). Raises ScenarioError(source,
    key path or "", message) for a missing, unreadable, oversized or hostile file, with the
    line (and column) where the problem is, when known. `max_bytes` and `max_nodes` raise
    the size limits for files ionsim wrote itself (RESOLVED_MAX_BYTES, RESOLVED_MAX_NODES)."""
    source = str(path) if source is None else source
    text_ = _read_text(Path(path), source, max_bytes)
    uses_aliases = _scan(text_, source, max_nodes)
    loader = Loader(text_)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as err:
            raise _syntax_error(source, err) from None
        if node is None:  # an empty file or only comments
            return None
        if uses_aliases:  # without aliases the scan has bounded size and depth already
            _check_graph(node, source)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as err:
            raise _syntax_error(source, err) from None
        except (ValueError, OverflowError, TypeError) as err:  # e.g. a bad timestamp
            raise ScenarioError(source, "", f"cannot read a value: {brief(str(err))}") from None
    finally:
        loader.dispose()


def _read_text(p: Path, source: str, max_bytes: int) -> str:
    try:
        if not p.exists():
            raise ScenarioError(source, "", "no such file (give the path of a scenario .yaml)")
        if p.is_dir():
            raise ScenarioError(source, "", "is a directory, not a scenario .yaml file")
        if not p.is_file():  # a FIFO blocks on open, a device may never end
            raise ScenarioError(source, "", "is not a regular file")
        size = p.stat().st_size
        if size > max_bytes:
            raise ScenarioError(source, "", _too_big(size, max_bytes))
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)  # the file may have grown since stat
    except OSError as err:
        raise ScenarioError(source, "", f"cannot read: {err.strerror or err}") from None
    if len(data) > max_bytes:
        raise ScenarioError(source, "", _too_big(len(data), max_bytes))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ScenarioError(source, "", f"is not UTF-8 text (byte {err.start}: "
                                        f"{brief(data[err.start:err.start + 4])})") from None


def _too_big(size: int, max_bytes: int) -> str:
    return (f"is {size / 1e6:.3g} MB; a scenario is a few kB of YAML and files over "
            f"{max_bytes / 1e6:g} MB are refused unread")


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def _syntax_error(source: str, err: yaml.YAMLError) -> ScenarioError:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or (str(err).splitlines() or ["?"])[0]
    context = getattr(err, "context", None)
    if context and "duplicate" in context:
        problem = f"{context}; {problem}"
    problem = " ".join(str(problem).split())  # one line
    if len(problem) > 200:
        problem = problem[:197] + "..."
    return ScenarioError(source, "", f"YAML syntax error at {_where(mark)}{problem}")


def _scan(text_: str, source: str, max_nodes: int = MAX_NODES) -> bool:
    """Walk the parser's events (no tree is built): refuse more than MAX_NODES values,
    nesting deeper than MAX_DEPTH, duplicate keys and over-long numbers, naming the key path
    (rebuilt from the events). Returns whether the document uses aliases."""
    try:
        return _scan_events(Loader, text_, source, max_nodes)
    except ScenarioError as err:
        # libyaml refuses nesting past 1000 levels while scanning ahead, before it emits
        # the events that would name the key; the pure-Python parser looks at most 1024
        # characters ahead, so it reaches MAX_DEPTH at once and says where.
        if Loader is yaml.SafeLoader or "maximum nesting depth" not in err.detail:
            raise
        _scan_events(yaml.SafeLoader, text_, source, max_nodes)
        raise


def _scan_events(loader_class, text_: str, source: str, max_nodes: int) -> bool:
    loader = loader_class(text_)
    # One frame per open collection: [is_mapping, items so far, current key, {key: line}]
    frames: list[list] = []
    nodes, aliases = 0, False
    try:
        while True:
            try:
                event = loader.get_event()
            except yaml.YAMLError as err:
                raise _syntax_error(source, err) from None
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return aliases
            if isinstance(event, yaml.CollectionEndEvent):
                frames.pop()
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue  # stream and document boundaries
            nodes += 1
            is_key = False
            if frames:
                frame = frames[-1]
                frame[1] += 1
                is_key = frame[0] and frame[1] % 2 == 1
            if nodes > max_nodes:
                raise ScenarioError(source, _path(frames), f"{_where(event.start_mark)}more "
                                                           f"than {max_nodes} values (a "
                                                           f"scenario has a few hundred)")
            if isinstance(event, yaml.AliasEvent):
                aliases = True
                if is_key:
                    frame[2] = "*" + str(event.anchor)
            elif isinstance(event, yaml.ScalarEvent):
                if is_key:
                    _check_key(loader, frame, event, frames, source)
                elif len(event.value) > MAX_NUMBER_CHARS and event.implicit[0] and \
                        loader.resolve(yaml.ScalarNode, event.value, (True, False)) \
                        in _NUMBER_TAGS:
                    raise ScenarioError(source, _path(frames), f"{_where(event.start_mark)}a "
                                                               f"number of {len(event.value)} "
                                                               f"characters is not a physical "
                                                               f"value")
            else:  # a collection starts
                if is_key:
                    frame[2] = "?"
                frames.append([isinstance(event, yaml.MappingStartEvent), 0, None, {}])
                if len(frames) > MAX_DEPTH:
                    frames.pop()
                    raise ScenarioError(source, _path(frames), f"{_where(event.start_mark)}"
                                                               f"nested more than {MAX_DEPTH} "
                                                               f"levels deep (a scenario needs "
                                                               f"about 5)")
    finally:
        loader.dispose()


def _check_key(loader, frame: list, event, frames: list, source: str) -> None:
    """Remember a mapping key (for paths) and refuse it if the mapping has it already."""
    value = event.value
    frame[2] = value
    if event.implicit[0]:  # plain: resolve as YAML would (1 and "1" differ, a and "a" not)
        tag = loader.resolve(yaml.ScalarNode, value, (True, False))
        if tag == _MERGE_TAG:
            return
    else:
        tag = event.tag or "tag:yaml.org,2002:str"
    mark, seen = event.start_mark, frame[3]
    if (tag, value) in seen:
        first = seen[(tag, value)]
        where = (f"at line {first.line + 1} and again at line {mark.line + 1}"
                 if first.line != mark.line else
                 f"twice on line {mark.line + 1} (columns {first.column + 1} and "
                 f"{mark.column + 1})")
        raise ScenarioError(source, join(_path(frames), value),
                            f"duplicate key: given {where}; give it once (YAML would keep "
                            f"only the last)")
    seen[(tag, value)] = mark


def _path(frames: list[list]) -> str:
    """Key path of the item the innermost frame is reading."""
    path = ""
    for is_mapping, items, key, _ in frames:
        if not is_mapping:
            path = f"{path}[{items - 1}]"
        elif items % 2 == 0:  # reading a value: its key names it
            path = join(path, key)
    return path


def _check_graph(root, source: str) -> None:
    """One memoised visit of every node of the composed graph (an alias is the node it
    names, shared): refuse an expansion over MAX_EXPANDED, an expanded depth over MAX_DEPTH
    and an alias inside its own anchor. Only for documents with aliases."""
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, expanded depth)
    active: set[int] = set()
    # Frames of an explicit stack (no recursion): [node, path, children, next child index]
    stack = [[root, "", _children(root, ""), 0]]
    active.add(id(root))
    while stack:
        frame = stack[-1]
        node, path, children, i = frame
        if i < len(children):
            frame[3] += 1
            child, child_path = children[i]
            if id(child) in done:
                continue
            if id(child) in active:
                raise ScenarioError(source, child_path, f"{_where(child.start_mark)}an alias "
                                                        f"refers to the value that contains "
                                                        f"it (a recursive structure)")
            active.add(id(child))
            stack.append([child, child_path, _children(child, child_path), 0])
            continue
        stack.pop()
        active.discard(id(node))
        if isinstance(node, yaml.ScalarNode):
            size, depth = 1 + len(node.value), 0
        else:
            size = 1 + sum(done[id(c)][0] for c, _ in children)
            depth = 1 + max((done[id(c)][1] for c, _ in children), default=0)
        if size > MAX_EXPANDED:
            raise ScenarioError(source, path, f"{_where(node.start_mark)}YAML aliases expand "
                                              f"this value to more than {MAX_EXPANDED} nodes "
                                              f"and characters; a scenario repeats a "
                                              f"membrane a few times (- *membrane), no more")
        if depth > MAX_DEPTH:
            raise ScenarioError(source, path, f"{_where(node.start_mark)}aliases nest this "
                                              f"value more than {MAX_DEPTH} levels deep")
        done[id(node)] = (size, depth)


def _children(node, path: str) -> list:
    """(child node, its key path) of a node; mapping keys and values alike."""
    if isinstance(node, yaml.ScalarNode):
        return []
    if isinstance(node, yaml.SequenceNode):
        return [(c, f"{path}[{i}]") for i, c in enumerate(node.value)]
    children = []
    for k, v in node.value:
        children.append((k, path))
        children.append((v, join(path, k.value) if isinstance(k, yaml.ScalarNode)
                         and k.tag != _MERGE_TAG else path))
    return children
