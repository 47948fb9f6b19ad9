"""Hybrid logical clock and per-field versions.

A clock stamp is one integer: wall-clock milliseconds << 16 | a counter, so
stamps from one install strictly increase even when the PC's clock is set back::

    >>> c = Clock(wall=lambda: 1.0)
    >>> a, b = c.tick(), c.tick()
    >>> b > a, a >> 16
    (True, 1000)

Each field of a row keeps the :class:`Version` of its value: the stamp, the
origin node, and what the writer had already seen of that field (a small
version vector: origin → newest stamp seen). DESIGN.md asks each field to keep
"the stamp of the value it replaced"; the vector is the exact form of that
idea: one predecessor stamp cannot tell an old value that arrives late from a
concurrent one once a field has been edited twice, the vector can. In the
common case (one origin edits a field) it is no bigger than the stamp itself.

Per row the versions are stored as JSON in ``_versions``:
``[base]`` or ``[base, {field: version, …}]``, where ``base`` applies to every
field not listed and a version is ``[stamp, origin]`` or
``[stamp, origin, {other origin: stamp, …}]``.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

COUNTER_BITS = 16
# The refusal bound: a package with any stamp more than this ahead of the receiver's wall
# clock is held whole (not applied).
MAX_SKEW_MS = 24 * 3600 * 1000
# How far a received stamp may move this install's clock ahead of its wall clock. Far less
# than the refusal bound, so an install's own writes stay well inside what the level above
# accepts even when a village's PC runs almost a day ahead (which of two concurrent values
# wins is decided by the stamps they carry; what a writer had seen, by its version vector).
MAX_ADOPT_MS = 3600 * 1000
# No clock stamp may lie beyond 2100-01-01 (UTC): a PC set to the year 9999 would give
# stamps past what SQLite's INTEGER holds (2**63), and a clock that adopted one would make
# every later write of the receiving install fail. A fixed bound, not "so far ahead of
# this PC", so a receiving PC whose own date is wrong does not refuse good data.
MAX_STAMP = 4102444800000 << COUNTER_BITS
MAX_ORIGIN = 64                 # characters of a node id
MAX_SEEN = 10_000               # origins in one version vector


def now_iso() -> str:
    """The local wall-clock time, to the second, as written in audit and history rows."""
    return dt.datetime.now().isoformat(timespec="seconds")


def stamp_ms(stamp: int) -> int:
    return stamp >> COUNTER_BITS


class Clock:
    """A hybrid logical clock (Kulkarni et al. 2014) for one install."""

    def __init__(self, last: int = 0, wall: Callable[[], float] = time.time):
        self.last = last
        self.wall = wall

    def tick(self) -> int:
        now = int(self.wall() * 1000) << COUNTER_BITS
        self.last = max(now, self.last + 1)
        return self.last

    def bound(self) -> int:
        """The newest stamp this install accepts from elsewhere: wall + MAX_SKEW_MS.

        >>> Clock(wall=lambda: 1.0).bound() >> COUNTER_BITS
        86401000
        """
        return min(MAX_STAMP, (int(self.wall() * 1000) + MAX_SKEW_MS) << COUNTER_BITS | 0xFFFF)

    def cap(self) -> int:
        """The highest stamp a received stamp may move this clock to: ``MAX_ADOPT_MS`` ahead of
        the wall clock (and never past :meth:`bound`)."""
        return min(self.bound(), (int(self.wall() * 1000) + MAX_ADOPT_MS) << COUNTER_BITS | 0xFFFF)

    def observe(self, remote: int) -> bool:
        """Advance past a stamp received from elsewhere, never more than ``MAX_ADOPT_MS``
        ahead of this PC's wall clock (so never past :meth:`bound`).

        Returns True when the stamp is beyond the bound::

            >>> c = Clock(wall=lambda: 1.0)
            >>> c.observe(4102444800000 << COUNTER_BITS), c.last
            (True, 0)
            >>> c.observe(5 * 3600 * 1000 << COUNTER_BITS), c.last >> COUNTER_BITS   # 5 h ahead: 1 h adopted
            (False, 3601000)
        """
        bound = self.bound()
        adopted = min(remote, self.cap())
        if self.last < adopted and remote <= bound:   # an impossible stamp moves nothing
            self.last = adopted
        return remote > bound


@dataclass(frozen=True)
class Version:
    stamp: int
    origin: str
    seen: dict[str, int] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[int, str]:
        """The order that picks a winner among concurrent versions."""
        return (self.stamp, self.origin)

    def vector(self) -> dict[str, int]:
        v = dict(self.seen)
        if v.get(self.origin, 0) < self.stamp:
            v[self.origin] = self.stamp
        return v

    def covers(self, other: "Version") -> bool:
        """True if the writer of self had seen ``other`` (or it is the same)."""
        if self.key == other.key:
            return True
        mine = self.vector()
        return all(mine.get(o, 0) >= s for o, s in other.vector().items())

    def concurrent(self, other: "Version") -> bool:
        return not self.covers(other) and not other.covers(self)

    def clamped(self, bound: int) -> "Version":
        """This version with every stamp above ``bound`` brought down to it (same origin):
        how an administrator accepts a package from a PC whose date ran ahead, so that no
        stamp beyond this install's bound is kept or passed on::

            >>> Version(50, "A", {"B": 70}).clamped(40)
            Version(stamp=40, origin='A', seen={'B': 40})
        """
        if self.stamp <= bound and all(s <= bound for s in self.seen.values()):
            return self
        return Version(min(self.stamp, bound), self.origin, {o: min(s, bound) for o, s in self.seen.items()})

    def encode(self) -> list:
        extra = {o: s for o, s in self.seen.items() if o != self.origin}
        return [self.stamp, self.origin, extra] if extra else [self.stamp, self.origin]

    @classmethod
    def decode(cls, data: list) -> "Version":
        return cls(data[0], data[1], dict(data[2]) if len(data) > 2 else {})

    @classmethod
    def decode_checked(cls, data: object) -> "Version":
        """:meth:`decode` for data from elsewhere: ``[stamp, origin]`` or ``[stamp,
        origin, {origin: stamp}]`` with every stamp an int in 0..MAX_STAMP.

        :raises ValueError: for anything else.
        """
        if not (type(data) is list and 2 <= len(data) <= 3 and _stamp_ok(data[0])
                and type(data[1]) is str and len(data[1]) <= MAX_ORIGIN):
            raise ValueError("版本信息不合规")
        seen = data[2] if len(data) > 2 else {}
        if not (type(seen) is dict and len(seen) <= MAX_SEEN
                and all(len(o) <= MAX_ORIGIN and _stamp_ok(s) for o, s in seen.items())):
            raise ValueError("版本信息不合规")
        return cls(data[0], data[1], dict(seen))


def _stamp_ok(stamp: object) -> bool:
    return type(stamp) is int and 0 <= stamp <= MAX_STAMP


def successor(stamp: int, origin: str, replaced: Iterable[Version]) -> Version:
    """The version of a local write made on top of the ``replaced`` versions."""
    seen: dict[str, int] = {}
    for old in replaced:
        for o, s in old.vector().items():
            if seen.get(o, 0) < s:
                seen[o] = s
    seen.pop(origin, None)
    return Version(stamp, origin, seen)


class RowVersions:
    """The versions of every field of one row, with compact JSON encoding.

    >>> rv = RowVersions(Version(5, "a"))
    >>> rv.set("phone", Version(9, "b", {"a": 5}))
    >>> rv.encode()
    '[[5,"a"],{"phone":[9,"b",{"a":5}]}]'
    >>> RowVersions.decode(rv.encode()).get("name")
    Version(stamp=5, origin='a', seen={})
    """

    __slots__ = ("base", "fields")

    def __init__(self, base: Version, fields: dict[str, Version] | None = None):
        self.base = base
        self.fields = fields or {}

    def clamped(self, bound: int) -> "RowVersions":
        """Every version brought down to ``bound`` (see :meth:`Version.clamped`)."""
        return RowVersions(self.base.clamped(bound), {k: v.clamped(bound) for k, v in self.fields.items()})

    def get(self, name: str) -> Version:
        return self.fields.get(name, self.base)

    def set(self, name: str, version: Version) -> None:
        if version == self.base and version.seen == self.base.seen:
            self.fields.pop(name, None)
        else:
            self.fields[name] = version

    def newest(self) -> int:
        return max([self.base.stamp] + [v.stamp for v in self.fields.values()])

    def all_versions(self, names: Iterable[str]) -> list[Version]:
        return [self.get(n) for n in names]

    def encode(self) -> str:
        data: list = [self.base.encode()]
        if self.fields:
            data.append({k: v.encode() for k, v in sorted(self.fields.items())})
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def decode(cls, text: str) -> "RowVersions":
        data = json.loads(text)
        fields = {k: Version.decode(v) for k, v in data[1].items()} if len(data) > 1 else {}
        return cls(Version.decode(data[0]), fields)

    @classmethod
    def decode_checked(cls, text: str) -> "RowVersions":
        """:meth:`decode` for text from elsewhere (a package): the shape, the nesting and
        every stamp checked (see :meth:`Version.decode_checked`).

        :raises ValueError: for anything else.
        """
        def no_constants(name):
            raise ValueError("版本信息不合规")
        try:
            data = json.loads(text, parse_constant=no_constants)
        except RecursionError:
            raise ValueError("版本信息嵌套过深") from None
        if not (type(data) is list and 1 <= len(data) <= 2):
            raise ValueError("版本信息不合规")
        fields = data[1] if len(data) > 1 else {}
        if type(fields) is not dict:
            raise ValueError("版本信息不合规")
        return cls(Version.decode_checked(data[0]), {k: Version.decode_checked(v) for k, v in fields.items()})


def base_json(stamp: int, origin: str) -> str:
    """The ``_versions`` of a freshly inserted row (fast path for bulk writes)."""
    return f'[[{stamp},{json.dumps(origin)}]]'
