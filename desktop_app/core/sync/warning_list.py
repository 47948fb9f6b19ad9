"""The warnings of one import, bounded: a package can make a warning per record, and
2 M records once made 2 M warning lines (1.3 GB, 130 MB of output). Warnings of one kind
become one line with a count and a few examples; at most :data:`MAX_KINDS` lines of at
most :data:`MAX_LINE_CHARS` characters are kept, and a last line counts the rest::

    >>> w = Warnings()
    >>> for name in ("ledger_a", "ledger_b", "ledger_c", "ledger_d"):
    ...     w.add("unknown-table", f"本机的计划目录中没有表 {name}，其记录未导入")
    >>> w
    ['本机的计划目录中没有表 ledger_a，其记录未导入（同类提示共 4 条，另如：本机的计划目录中没有表 ledger_b，其记录未导入；本机的计划目录中没有表 ledger_c，其记录未导入）']
    >>> w.append("有 1 个附件（照片、扫描件）尚未收到")   # a kind of its own (its text)
    >>> len(w)
    2

It is a list of strings, so it serialises and compares as one (``== []``).
"""
from __future__ import annotations

MAX_KINDS = 30            # lines kept; further kinds are only counted
MAX_EXAMPLES = 3          # texts shown per kind
MAX_LINE_CHARS = 1000     # one line, examples and count included
MAX_EXAMPLE_CHARS = 300   # one example


class Warnings(list):
    """A list of warning lines, one per kind (see the module)."""

    def __init__(self, lines=()):
        super().__init__()
        self._kinds: dict[str, list] = {}     # kind -> [index, count, examples]
        self._overflow = 0
        for line in lines:
            self.append(line)

    def add(self, kind: str, text: str, n: int = 1) -> None:
        """``n`` warnings of ``kind``: a new line, or the count of that kind's line raised
        (a caller that warns per record counts first and adds once, with ``n``)."""
        entry = self._kinds.get(kind)
        if entry is None:
            if len(self._kinds) >= MAX_KINDS:
                self._overflow += n
                self._set(MAX_KINDS, f"另有 {self._overflow:,} 条其他提示未列出")
                return
            entry = self._kinds[kind] = [len(self._kinds), 0, []]
        entry[1] += n
        text = text[:MAX_EXAMPLE_CHARS]
        if len(entry[2]) < MAX_EXAMPLES and text not in entry[2]:
            entry[2].append(text)
        self._set(entry[0], self._render(entry[1], entry[2]))

    def append(self, text: str) -> None:  # noqa: D401 - list's own name, kept for the callers
        """A warning whose text is its kind (the same text twice: one line with a count)."""
        self.add(text, text)

    def extend(self, lines) -> None:
        for line in lines:
            self.append(line)

    def _set(self, index: int, line: str) -> None:
        if index < super().__len__():
            super().__setitem__(index, line)
        else:
            super().append(line)

    @staticmethod
    def _render(count: int, examples: list[str]) -> str:
        if count == 1:
            return examples[0][:MAX_LINE_CHARS]
        more = f"，另如：{'；'.join(examples[1:])}" if len(examples) > 1 else ""
        return (examples[0] + f"（同类提示共 {count:,} 条{more}）")[:MAX_LINE_CHARS]
