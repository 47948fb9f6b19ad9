"""Expected failures: one base class that knows its command-line exit code.

Every failure a user causes and can fix — a bad file, a wrong password, a role
that may not do something, a package meant for someone else — raises a subclass
of :class:`UserError`. Its message is Chinese, names the file, row or field, says
what to do, and never carries a sensitive value. Front ends catch ``UserError``
once: the command line prints it and exits with :attr:`UserError.exit_code`, the
window shows it. Anything else is a bug, logged and shown as one::

    >>> err = UserError("示例.xlsx 第 3 行：身份证号应为 18 位", exit_code=INPUT_PROBLEMS)
    >>> err.exit_code, str(err)
    (1, '示例.xlsx 第 3 行：身份证号应为 18 位')
    >>> StoreError("找不到数据库文件 示例.sqlite3").exit_code
    2
    >>> describe(PermissionError(13, "Permission denied", "/media/u盘/导出.xlsx"))
    '无法写入或读取 /media/u盘/导出.xlsx：没有权限。请换一个文件夹，或请管理员开放权限'
    >>> describe(KeyError("x")) is None
    True
"""
from __future__ import annotations

import errno

OK, INPUT_PROBLEMS, UNUSABLE = 0, 1, 2


class UserError(Exception):
    """A failure the user can understand and fix; nothing was half-written.

    ``exit_code`` follows the command-line convention: 1 when the input had
    problems that were reported (nothing written), 2 when it could not be used
    at all. Subclasses set their usual code; a caller may override it.
    """

    exit_code = UNUSABLE

    def __init__(self, message: str = "", exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class StoreError(UserError):
    """The store cannot be used as asked; the message says why and what to do."""


class Cancelled(Exception):
    """The user pressed 取消: raised by a progress callback, never shown as an error."""


_OS_REASONS = {
    errno.EACCES: "没有权限。请换一个文件夹，或请管理员开放权限",
    errno.EPERM: "没有权限。请换一个文件夹，或请管理员开放权限",
    errno.ENOSPC: "磁盘空间不足。请腾出空间或换一个磁盘后重试",
    errno.ENOENT: "找不到这个文件或文件夹。请检查路径（U 盘是否已拔出）",
    errno.EROFS: "磁盘是只读的（U 盘可能开了写保护）。请换一个磁盘",
    errno.EISDIR: "这是一个文件夹，不是文件。请选择文件",
    errno.ENOTDIR: "路径中有一段不是文件夹。请检查路径",
}


def describe(error: BaseException) -> str | None:
    """The Chinese text for an expected failure, or None for a bug.

    A :class:`UserError` says itself; an ``OSError`` (a USB stick pulled out, a
    full disk, a folder without permission) is described by its file and reason.
    """
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, OSError):
        where = error.filename if error.filename is not None else "文件"
        reason = _OS_REASONS.get(error.errno, "系统报告读写失败。请检查磁盘和文件后重试")
        return f"无法写入或读取 {where}：{reason}"
    return None


def exit_code(error: BaseException) -> int:
    """The exit code of an expected failure (an OSError means the input was unusable)."""
    return error.exit_code if isinstance(error, UserError) else UNUSABLE
