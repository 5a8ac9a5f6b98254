"""The rules file's YAML: parsed once into its data and the line of every path, YAML 1.1's quirks off, bounded.

Off means: only true/false are booleans, only plain decimals integers, and nothing is a date (`2020-05-18` is
text; the rules file has no date-typed field). A plain scalar that still reads as a number or boolean keeps its
text as written beside its line (`Lines.text`), for the fields the schema types as strings (`name: 2024`).

One composer (`_Composer`) builds both from parser events, whichever parser gives them: libyaml's when PyYAML has
it, else PyYAML's own, so resolving, the checks and the lines are the same on both. It refuses what would hang
or crash every later walk of the data: deep nesting, recursive aliases and alias bombs, each at its line.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

import yaml

# Real rules files nest fewer than 10 levels; 64 keeps every later walk far from Python's recursion limit.
_MAX_DEPTH = 64
# Counted expanded (a node counts each time an alias repeats it): everything after composing walks the
# expansion. An ordinary rule is 20-60 nodes (keys count), so 10,000 rules need at most 600,000, while a bomb
# needs billions. Validating 1,000,000 nodes takes 2-10 s (patterns compile slowest), never hours.
_MAX_NODES = 1_000_000


class _PyEvents(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's pure-Python parser alone: text -> events."""

    def __init__(self, text: str):
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


def _event_source() -> Any:
    """libyaml's parser when PyYAML was built with it (C speed), else PyYAML's own. Either only parses:
    composing, resolving, the checks and constructing are _Composer's, the same for both. libyaml's parser keeps
    its nesting on the heap, so a document nested 100,000 deep reaches _Composer, which refuses it at level 65.
    (PyYAML's C composer, which CSafeLoader uses, recurses in C: such a document crashes the process. It is
    never used.)"""
    return yaml.cyaml.CParser if getattr(yaml, "__with_libyaml__", False) else _PyEvents


_EVENTS = _event_source()


class Unbuildable(Exception):
    """A document the loader will not build, refused at one line."""

    def __init__(self, mark: yaml.Mark, message: str):
        super().__init__(message)
        self.line, self.message = mark.line + 1, message


def _tag(name: str) -> str:
    return "tag:yaml.org,2002:" + name


_STR, _INT, _FLOAT, _BOOL, _NULL, _MAP, _SEQ, _MERGE, _VALUE, _TIMESTAMP = map(_tag, (
    "str", "int", "float", "bool", "null", "map", "seq", "merge", "value", "timestamp"))
# SafeLoader's implicit tags without YAML 1.1's surprises: `on:` stays a string key (not True), `00:30` a string
# (not the base-60 integer 30) and `2020-05-18` a string (not a date; YAML 1.2 has no implicit dates either): only
# true/false are booleans, only plain decimals integers.
_IMPLICIT: Dict[Optional[str], List[Tuple[str, Any]]] = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _TIMESTAMP)]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()}
for _implicit_tag, _rx, _firsts in ((_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF"),
                                    (_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), "-+0123456789")):
    for _first in _firsts:
        _IMPLICIT.setdefault(_first, []).append((_implicit_tag, _rx))
# Tags of SafeConstructor's scalar constructors: one of these on a collection is "expected a scalar node".
_SCALAR_TAGS = frozenset(map(_tag, ("null", "bool", "int", "float", "binary", "timestamp", "str")))
_KIND = {dict: "mapping", list: "sequence"}          # a node's kind by what it constructs to (see _Composer)
_NO_KEY, _MERGING, _UNKNOWN = object(), object(), object()


class _Open:
    """A collection being composed. `start`: the nodes counted before it (its expanded size is those counted
    since); `lines`: its children's entries in Lines (None: not recorded, as for what `<<` merges); `fast`: its
    next child, if an untagged, unanchored node, needs no check (it is not a `<<` value or a merged mapping, and
    not too deep)."""
    __slots__ = ("mapping", "value", "lines", "start", "height", "anchor", "mark", "key", "key_text", "keys",
                 "merges", "merging", "fast")

    def __init__(self, mapping: bool, lines: Any, mark: Any, anchor: Optional[str], fast: bool, start: int):
        self.mapping, self.lines, self.mark, self.anchor, self.fast = mapping, lines, mark, anchor, fast
        self.value: Any = {} if mapping else []
        self.start, self.height = start, 1
        self.key: Any = _NO_KEY         # a mapping's pending key (_MERGING for `<<`), until its value is composed
        self.key_text: Optional[str] = None  # ... as written
        self.keys: Optional[dict] = None     # key -> (key as written, line), for a mapping that may be merged
        self.merges: Optional[list] = None   # a mapping's `<<` sources: (mapping, keys), lowest precedence first
        self.merging: Optional[list] = None  # a sequence that is a `<<` value: its mappings' (mapping, keys)


class Lines:
    """The line of each path in the document (keys and list indexes). The composer records a tree: an entry is
    a line, or (line, children) for a collection, children a dict by key as written or a list by index, or
    (line, text) for a plain scalar that is not a string (a number or boolean), its text as written. A key's
    line is where the key is written; a list item's where the item is; a path inside an alias or a `<<` merge is
    not here (it falls back to the line that uses it)."""
    __slots__ = ("root",)

    def __init__(self, root: Any = None):
        self.root = root

    def _entry(self, path: Tuple) -> Any:
        entry = self.root
        for part in path:
            if entry.__class__ is not tuple:
                return None
            children = entry[1]
            if children.__class__ is dict:
                entry = children.get(part) if isinstance(part, str) else None
            elif children.__class__ is list and part.__class__ is int and 0 <= part < len(children):
                entry = children[part]
            else:
                return None
        return entry

    def get(self, path: Tuple, default: Optional[int] = None) -> Optional[int]:
        entry = self._entry(path)
        if entry is None:
            return default
        return entry[0] if entry.__class__ is tuple else entry

    def text(self, path: Tuple) -> Optional[str]:
        """The text of the plain number or boolean at `path` as written, if it was recorded."""
        entry = self._entry(path)
        return entry[1] if entry.__class__ is tuple and entry[1].__class__ is str else None

    def __contains__(self, path: Tuple) -> bool:
        return self.get(path) is not None


class _Composer:
    """Events -> the data SafeLoader would construct (with the quirks above off) and the line of every path
    (keys and list indexes), in one pass and without recursion. Refuses, at the offending line, what would hang
    or crash every later walk of the data: nesting deeper than _MAX_DEPTH, an alias inside its own anchor, and
    aliases that expand the document past _MAX_NODES (each node's expanded size and height are summed from its
    children once, so the checks are linear in the file, not in what its aliases expand to).

    Aliases share the anchored value, as SafeLoader's do. Only the tags a rules file can use construct: scalars
    (any tag SafeLoader takes), mappings (`<<` merges included) and sequences; !!set, !!omap, !!pairs and
    unknown tags are refused like an unknown tag."""

    def __init__(self, events: Any):
        self.events = events
        self.lines = Lines()
        # anchor -> None while its node is composed, then (value, size, height, mark, text, keys)
        self.anchors: Dict[str, Optional[tuple]] = {}
        self.first: Dict[str, yaml.Mark] = {}
        self.tags: Dict[str, str] = {}       # plain scalar -> its implicit tag
        self.plain: Dict[str, Any] = {}      # plain scalar -> its value, when a string, integer, boolean or null
        self.constructor: Optional[yaml.constructor.SafeConstructor] = None

    def document(self) -> Any:
        get = self.events.get_event
        get()                                               # StreamStartEvent
        if get().__class__ is yaml.StreamEndEvent:          # else DocumentStartEvent
            return None
        root, mark = self.run()
        get()                                               # DocumentEndEvent
        following = get()
        if following.__class__ is not yaml.StreamEndEvent:
            raise yaml.composer.ComposerError("expected a single document in the stream", mark,
                                              "but found another document", following.start_mark)
        return root

    def run(self) -> Tuple[Any, yaml.Mark]:
        """The root node's value and mark. One loop over the events; the first three branches are the common
        cases (an untagged, unanchored node in a collection whose `fast` is set), done as the general code after
        them would, minus what cannot apply."""
        get, plain = self.events.get_event, self.plain
        Scalar, Alias, SeqStart, MapStart, SeqEnd, MapEnd = (
            yaml.ScalarEvent, yaml.AliasEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent,
            yaml.SequenceEndEvent, yaml.MappingEndEvent)
        no_key, merging, unknown, deepest = _NO_KEY, _MERGING, _UNKNOWN, _MAX_DEPTH
        outside = _Open(False, None, None, None, False, 0)    # what holds the root
        stack: List[_Open] = []
        top = outside
        count = 0       # nodes so far, an alias counting as the nodes it repeats: a node's size is a difference
        while True:
            event = get()
            cls = type(event)
            if cls is Scalar and top.fast and event.tag is None and event.anchor is None:
                text = event.value
                if event.implicit[0]:
                    value = plain.get(text, unknown)
                    if value is unknown:
                        value = self._plain(text)            # still unknown: a float, a date, `<<`...
                else:
                    value = text
                if value is not unknown:
                    count += 1
                    if not top.mapping:
                        if top.lines is not None:
                            line = event.start_mark.line + 1
                            top.lines.append(line if value.__class__ is str or value is None else (line, text))
                        top.value.append(value)
                    elif top.key is no_key:
                        top.key, top.key_text = value, text
                        if top.lines is not None:
                            top.lines[text] = event.start_mark.line + 1
                        if top.keys is not None:
                            top.keys[value] = (text, event.start_mark.line + 1)
                    else:
                        top.value[top.key] = value
                        if value.__class__ is not str and value is not None and top.lines is not None:
                            top.lines[top.key_text] = (top.lines[top.key_text], text)
                        top.key = no_key
                    continue
            if (cls is MapStart or cls is SeqStart) and top.fast and event.tag is None and event.anchor is None \
                    and (top.key is not no_key or not top.mapping):
                table = top.lines
                if table is not None:
                    children: Any = {} if cls is MapStart else []
                    if top.mapping:
                        table[top.key_text] = (table[top.key_text], children)
                    else:
                        table.append((event.start_mark.line + 1, children))
                else:
                    children = None
                stack.append(_Open(cls is MapStart, children, event.start_mark, None, len(stack) < deepest - 1,
                                   count))
                count += 1
                top = stack[-1]
                continue
            if cls is MapEnd or cls is SeqEnd:
                done = stack.pop()
                top = stack[-1] if stack else outside
                size, height = count - done.start, done.height
                if height == 1 and done.value:              # scalars above do not raise it
                    height = 2
                if top.fast and done.merges is None and done.anchor is None and size <= _MAX_NODES:
                    if height >= top.height:
                        top.height = height + 1
                    if top.mapping:
                        top.value[top.key] = done.value
                        top.key = no_key
                    else:
                        top.value.append(done.value)
                    continue
                value, mark, text = done.value, done.mark, None
                if done.merges:
                    value = self._merged(done)
                if size > _MAX_NODES:
                    raise Unbuildable(mark, f"YAML aliases expand this document past {_MAX_NODES:,} nodes "
                                         "(an alias bomb?)")
                if done.anchor is not None:
                    self.anchors[done.anchor] = (value, size, height, mark, None, done.keys)
                if top.key is merging:                      # `<<: {...}` or `<<: [{...}, ...]`
                    if done.mapping:
                        top.merges.append((value, done.keys))
                    else:
                        top.merges.extend(reversed(done.merging))
                elif top.merging is not None and done.mapping:
                    top.merging.append((value, done.keys))
            elif cls is Alias:
                mark = event.start_mark
                value, size, height, text = self._alias(event.anchor, mark, len(stack))
                count += size
                if value is merging and (not top.mapping or top.key is not no_key):
                    raise yaml.constructor.ConstructorError(
                        None, None, f"could not determine a constructor for the tag {_MERGE!r}", mark)
                if not top.mapping and top.lines is not None:
                    top.lines.append(mark.line + 1)
            elif cls is Scalar or cls is SeqStart or cls is MapStart:
                mark = event.start_mark
                if len(stack) == deepest:
                    raise Unbuildable(mark, f"YAML nested deeper than {_MAX_DEPTH} levels")
                anchor = event.anchor
                if anchor is not None:
                    self._anchor(anchor, mark)
                if cls is not Scalar:
                    stack.append(self._open(event, cls is MapStart, top, len(stack) < deepest - 1, count))
                    count += 1
                    top = stack[-1]
                    continue
                text = event.value
                value = self._scalar(event, top.mapping and top.key is no_key)
                size = height = 1
                count += 1
                if anchor is not None:
                    self.anchors[anchor] = (value, 1, 1, mark, text, None)
                if top is outside:
                    self.lines.root = mark.line + 1
                elif not top.mapping and top.lines is not None:
                    top.lines.append(mark.line + 1)
            else:
                raise AssertionError(f"unexpected {event!r}")   # the parser's grammar never gets here
            # A finished node (value, size, height, mark; `text` as written for a scalar): into its collection.
            if top is outside:
                return value, mark
            if height >= top.height:
                top.height = height + 1
            if not top.mapping:
                if top.merging is not None:
                    self._merge_item(top, value, mark, event, stack[-2])
                top.value.append(value)
            elif top.key is no_key:                         # a key
                if value.__class__ is dict or value.__class__ is list:
                    raise yaml.constructor.ConstructorError("while constructing a mapping", top.mark,
                                                            "found unhashable key", mark)
                top.key, top.key_text = value, text
                if value is merging:
                    if top.merges is None:
                        top.merges = []
                    top.fast = False
                    continue
                if top.lines is not None:
                    top.lines[text] = mark.line + 1
                if top.keys is not None:
                    top.keys[value] = (text, mark.line + 1)
            else:                                           # a value
                if top.key is merging:
                    if cls is Scalar or cls is Alias:
                        self._merge(top, value, mark, event)
                    top.fast = len(stack) < deepest
                else:
                    top.value[top.key] = value
                top.key = no_key

    def _open(self, event: Any, mapping: bool, top: _Open, fast: bool, start: int) -> _Open:
        """A collection starts (checked for depth and anchor already)."""
        tag, mark = event.tag, event.start_mark
        if tag is not None and tag != "!" and tag != (_MAP if mapping else _SEQ):
            self._tagged(tag, mapping, mark)
        if top.key is _NO_KEY and top.mapping:
            raise yaml.constructor.ConstructorError("while constructing a mapping", top.mark,
                                                    "found unhashable key", mark)
        children: Any = None
        merged = top.key is _MERGING or top.merging is not None    # merged into a mapping: its lines are not
        root = top.mark is None                                     # recorded; the root's always are
        if (top.lines is not None and not merged) or root:
            children = {} if mapping else []
            if root:
                self.lines.root = (mark.line + 1, children)
            elif top.mapping:
                top.lines[top.key_text] = (top.lines[top.key_text], children)
            else:
                top.lines.append((mark.line + 1, children))
        opened = _Open(mapping, children, mark, event.anchor, fast, start)
        if merged:
            if mapping:
                opened.keys = {}
            elif top.mapping:
                opened.merging, opened.fast = [], False
        if event.anchor is not None and mapping:
            opened.keys = {}
        return opened

    def _plain(self, text: str) -> Any:
        """A plain scalar's value if it is a string, number, boolean or null (remembered), else _UNKNOWN."""
        tag = self.tags.get(text)
        if tag is None:
            tag = self.tags[text] = self._resolve(text)
        if tag == _STR:
            value = text
        elif tag == _INT:
            value = int(text.replace("_", ""))
        elif tag == _NULL:
            value = None
        elif tag == _BOOL:
            value = text.lower() == "true"
        elif tag == _FLOAT:
            value = self._construct(yaml.ScalarNode(tag, text))
        else:
            return _UNKNOWN
        self.plain[text] = value
        return value

    def _scalar(self, event: Any, key: bool) -> Any:
        """Any scalar's value: resolved (untagged or `!`) and constructed as SafeLoader would; `<<` as a key is
        _MERGING, `=` as a key the string."""
        tag, text = event.tag, event.value
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return text
            value = self._plain(text)
            if value is not _UNKNOWN:
                return value
            tag = self.tags[text]
        if tag == _STR:
            return text
        if key and (tag == _MERGE or tag == _VALUE):
            return _MERGING if tag == _MERGE else text
        return self._construct(yaml.ScalarNode(tag, text, event.start_mark, event.end_mark, style=event.style))

    def _anchor(self, anchor: str, mark: yaml.Mark) -> None:
        if anchor in self.anchors:
            raise yaml.composer.ComposerError(f"found duplicate anchor {anchor!r}; first occurrence",
                                              self.first[anchor], "second occurrence", mark)
        self.anchors[anchor], self.first[anchor] = None, mark

    def _alias(self, anchor: str, mark: yaml.Mark, depth: int) -> Tuple[Any, int, int, Optional[str]]:
        if anchor not in self.anchors:
            raise yaml.composer.ComposerError(None, None, f"found undefined alias {anchor!r}", mark)
        found = self.anchors[anchor]
        if found is None:
            raise Unbuildable(mark, f"YAML alias *{anchor} is used inside its own anchor (a recursive alias)")
        value, size, height, _, text, _ = found
        if depth + height > _MAX_DEPTH:
            raise Unbuildable(mark, f"YAML aliases nest this document deeper than {_MAX_DEPTH} levels")
        return value, size, height, text

    def _anchored(self, event: Any) -> Optional[tuple]:
        return self.anchors.get(event.anchor) if event.__class__ is yaml.AliasEvent else None

    def _merge_item(self, top: _Open, value: Any, mark: yaml.Mark, event: Any, target: _Open) -> None:
        """An item of `<<: [...]`: a mapping written there (merged when it finished) or an alias of one."""
        if value.__class__ is not dict:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", target.mark,
                f"expected a mapping for merging, but found {_KIND.get(value.__class__, 'scalar')}", mark)
        if event.__class__ is yaml.AliasEvent:
            top.merging.append((value, self.anchors[event.anchor][5]))

    def _merge(self, top: _Open, value: Any, mark: yaml.Mark, event: Any) -> None:
        """`<<: *alias` or `<<: scalar` (a collection written there was merged when it finished)."""
        anchored = self._anchored(event)
        if value.__class__ is dict:
            top.merges.append((value, anchored[5] if anchored else None))
            return
        if value.__class__ is list:
            bad = next((item for item in value if item.__class__ is not dict), None)
            if bad is None:
                top.merges.extend((item, None) for item in reversed(value))
                return
            message = f"expected a mapping for merging, but found {_KIND.get(bad.__class__, 'scalar')}"
        else:
            message = "expected a mapping or list of mappings for merging, but found scalar"
        raise yaml.constructor.ConstructorError("while constructing a mapping", top.mark, message,
                                                anchored[3] if anchored else mark)

    def _merged(self, done: _Open) -> dict:
        """A mapping with `<<`: the merged mappings' keys first (earlier ones win), then its own (which win)."""
        own, merged = done.value, {}
        for source, _ in done.merges:
            merged.update(source)
        merged.update(own)
        for _, keys in reversed(done.merges):                # each merged key's line: where it was written
            for key, (text, line) in (keys or {}).items():
                if key not in own:
                    if done.lines is not None:
                        done.lines.setdefault(text, line)
                    if done.keys is not None:
                        done.keys.setdefault(key, (text, line))
        return merged

    def _resolve(self, text: str) -> str:
        for tag, rx in _IMPLICIT.get(text[0] if text else "", []) + _IMPLICIT.get(None, []):
            if rx.match(text):
                return tag
        return _STR

    def _construct(self, node: yaml.ScalarNode) -> Any:
        """A scalar with any other tag, exactly as SafeLoader constructs it (floats, !!timestamp, !!binary...)."""
        if self.constructor is None:
            self.constructor = yaml.constructor.SafeConstructor()
        return self.constructor.construct_object(node)

    @staticmethod
    def _tagged(tag: str, mapping: bool, mark: yaml.Mark) -> None:
        """A collection with an explicit tag other than its own: what SafeLoader would say (it cannot build
        one), or an unknown tag (!!set, !!omap and !!pairs never make a valid rules file either)."""
        kind = "mapping" if mapping else "sequence"
        if tag in _SCALAR_TAGS:
            message = f"expected a scalar node, but found {kind}"
        elif tag in (_MAP, _SEQ):
            message = f"expected a {'mapping' if tag == _MAP else 'sequence'} node, but found {kind}"
        else:
            message = f"could not determine a constructor for the tag {tag!r}"
        raise yaml.constructor.ConstructorError(None, None, message, mark)


def compose(text: str) -> Tuple[Any, Lines]:
    """The document's data and the line of each path in it. Raises Unbuildable (with its line) or yaml.YAMLError."""
    events = _EVENTS(text)
    try:
        composer = _Composer(events)
        return composer.document(), composer.lines
    finally:
        events.dispose()
