"""argparse's own words in Chinese (usage, help headings, usage errors).

argparse looks its messages up through ``gettext`` at the moment it prints them, so
replacing its ``_`` and ``ngettext`` before a parser is used is enough::

    >>> import argparse
    >>> install()
    >>> argparse._("the following arguments are required: %s") % "--ledger"
    '缺少必填参数：--ledger'
"""
from __future__ import annotations

import argparse

WORDS = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "show this help message and exit": "显示本帮助并退出",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "the following arguments are required: %s": "缺少必填参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效的选项 %(value)r（可选：%(choices)s）",
    "invalid %(type)s value: %(value)r": "无效的 %(type)s 值：%(value)r",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "expected one argument": "需要一个值",
    "expected at most one argument": "最多一个值",
    "expected at least one argument": "至少需要一个值",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "one of the arguments %s is required": "参数 %s 必须给出一个",
    "ambiguous option: %(option)s could match %(matches)s": "选项 %(option)s 不明确，可能是 %(matches)s",
    "ignored explicit argument %r": "忽略了多余的值 %r",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "没有命令 %(parser_name)r（可用：%(choices)s）",
    "can't open '%(filename)s': %(error)s": "无法打开“%(filename)s”：%(error)s",
}
PLURALS = {"expected %s argument": "需要 %s 个值", "expected %s arguments": "需要 %s 个值"}


def _text(message: str) -> str:
    return WORDS.get(message, message)


def _plural(singular: str, plural: str, n: int) -> str:
    return PLURALS.get(singular if n == 1 else plural, singular if n == 1 else plural)


def install() -> None:
    """Make argparse speak Chinese (idempotent)."""
    argparse._ = _text
    argparse.ngettext = _plural
