"""Log files for the errors nobody expected, with no personal data in them.

The window and the command line call :func:`setup_logging` once with a folder;
records then go to ``<folder>/minsheng.log`` (UTF-8, about 1 MB, the four older
files kept as ``minsheng.log.1`` … ``.4``). The folder and the file are made on
the first record, so a run without trouble leaves nothing behind.

Every record passes :class:`Redactor` on its way to the file: whatever looks like
a 身份证号 (15 or 18 digits, the last maybe X), a mobile or landline number (also
without its area code: any run of 7 or 8 digits), or a card number (16 digits and
more) is replaced in the message, its arguments and the traceback. A traceback is written by :func:`format_exception`: file names
from the package on, the code of each line, and the exception's own message
with numbers and Chinese text hidden (a bug's message may quote a value: a name,
a diagnosis, an address). Local variables are never written::

    >>> redact("身份证 43090219710916154X，电话 138-1234-5678，座机 0737-6212345，第 12 行")
    '身份证 [身份证号]，电话 [电话]，座机 [电话]，第 12 行'
    >>> hide_values("KeyError: '张三 43090219710916154X' not in row_7")
    "KeyError: '[文字] [身份证号]' not in row_7"
    >>> try:
    ...     {}["43090219710916154X"]
    ... except KeyError as exc:
    ...     error = exc
    >>> text = format_exception(error)
    >>> "43090219710916154X" in text, text.splitlines()[-1]
    (False, "KeyError: '[身份证号]'")
    >>> format_exception(error, messages=False).splitlines()[-1]
    'KeyError'

What it cannot know: a name in Latin letters (pinyin), a date of birth, or a
value a developer passes in a log message's text outside an exception — so code
logs ids and counts, never a row's values.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import re
import traceback
from pathlib import Path

import platformdirs

APP_ID = "minsheng-taizhang"
LOG_NAME = "minsheng.log"
MAX_BYTES = 1_000_000
BACKUPS = 4
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

logger = logging.getLogger("desktop_app")

_D = r"[0-9０-９]"            # ASCII and full-width digits (pasted from Word or Excel)
_SEP = r"[ \-－]?"
_RULES = [
    # 身份证号: 18 characters (the last a digit or X), perhaps in 6-8-4 groups, or the old 15 digits
    (re.compile(rf"(?<!{_D}){_D}{{6}}{_SEP}{_D}{{8}}{_SEP}{_D}{{3}}[0-9０-９XxＸｘ](?!{_D})"),
     "[身份证号]"),
    (re.compile(rf"(?<!{_D}){_D}{{15}}(?!{_D})"), "[身份证号]"),
    # mobile: 1[3-9]x xxxx xxxx, perhaps with +86 and separators
    (re.compile(rf"(?<!{_D})(?:\+?86{_SEP})?1[3-9３-９]{_D}{_SEP}{_D}{{4}}{_SEP}{_D}{{4}}(?!{_D})"),
     "[电话]"),
    # landline with its area code: 0737-6212345, (0737)6212345, 0737 6212345-801
    (re.compile(rf"(?<!{_D})[(（]?0{_D}{{2,3}}[)）]?{_SEP}{_D}{{7,8}}(?:-{_D}{{1,6}})?(?!{_D})"),
     "[电话]"),
    # a landline without its area code (7 or 8 digits), a bank card or account (16 and more);
    # the 9- and 12-digit codes of towns and villages stay readable
    (re.compile(rf"(?<!{_D})(?:{_D}{{7,8}}|{_D}{{16,}})(?!{_D})"), "[数字]"),
]
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+"
                  r"(?:[\s·•]*[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+)*")


def redact(text: str) -> str:
    """``text`` with every ID number, phone number and long digit run replaced.

    >>> redact("４３０９０２１９７１０９１６１５４Ｘ +86 13812345678 12345")
    '[身份证号] [电话] 12345'
    """
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def hide_values(text: str) -> str:
    """:func:`redact`, and Chinese text hidden too: for an exception's message, which may
    quote a name, an address or a screening result."""
    return redact(_CJK.sub("[文字]", text))


def _short_path(filename: str) -> str:
    """A source file from the package on (``desktop_app/ui/tasks.py``), else its last two
    parts: a home folder may carry a person's name."""
    parts = Path(filename).parts
    if "desktop_app" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("desktop_app"):])
    return "/".join(parts[-2:])


def format_exception(error: BaseException, *, messages: bool = True) -> str:
    """The traceback of ``error`` (and of the exceptions it was raised from), without values.

    Each frame gives its file (from ``desktop_app/`` on), line, function and code; the
    message of each exception is passed through :func:`hide_values`, or left out
    with ``messages=False`` (the text a user copies for a technician).
    """
    chain: list[tuple[BaseException, str]] = []   # newest first, with how it led to the newer
    current: BaseException | None = error
    how = ""
    while current is not None and all(current is not seen for seen, _ in chain):
        chain.append((current, how))
        if current.__cause__ is not None:
            current, how = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, how = current.__context__, _CONTEXT
        else:
            current = None
    lines: list[str] = []
    for exc, how in reversed(chain):  # oldest first, as Python prints them
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            lines.append("Traceback (most recent call last):")
        for frame in frames:
            lines.append(f'  File "{_short_path(frame.filename)}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {redact(frame.line.strip())}")
        name = type(exc).__qualname__
        if type(exc).__module__ not in ("builtins", "__main__"):
            name = f"{type(exc).__module__}.{name}"
        message = _message(exc) if messages else ""
        lines.append(f"{name}: {hide_values(message)}" if message else name)
        if how:
            lines += ["", how, ""]
    return "\n".join(lines)


_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not hide the traceback
        return "<message unavailable>"


class Redactor(logging.Filter):
    """Redacts every record on its way to the log file (message, arguments, traceback, stack).

    >>> record = logging.LogRecord("desktop_app", logging.ERROR, __file__, 1,
    ...                            "导入失败：%s", ("电话 13812345678",), None)
    >>> Redactor().filter(record), record.getMessage()
    (True, '导入失败：电话 [电话]')
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a wrong format string: keep the pieces, redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(str(message)), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = format_exception(record.exc_info[1])
        elif record.exc_text:
            record.exc_text = hide_values(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _Handler(logging.handlers.RotatingFileHandler):
    """A rotating UTF-8 file that makes its folder when the first record arrives."""

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        stream = super()._open()
        if os.name != "nt":   # this account only, like the store (the log names files and units)
            try:
                os.chmod(self.baseFilename, 0o600)
            except OSError:
                pass
        return stream

    def handleError(self, record) -> None:
        """A log that cannot be written (read-only folder, full disk) loses the record quietly:
        never a raw traceback on the screen instead of the error being reported."""


def setup_logging(folder: Path | str, *, level: int = logging.INFO, max_bytes: int = MAX_BYTES,
                  backups: int = BACKUPS) -> Path:
    """Send log records to ``<folder>/minsheng.log`` (rotated, UTF-8, redacted); returns its path.

    Calling it again moves the log to the new folder (one log file at a time); the
    root logger gets the handler, so records of any library are redacted too.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "logs"
    >>> path = setup_logging(folder)
    >>> (path == current_log(), folder.exists())    # made on the first record
    (True, False)
    >>> logger.warning("电话 %s", 13812345678)
    >>> path.read_text(encoding="utf-8").split(" WARNING ")[1]
    'desktop_app [MainThread] 电话 [电话]\\n'
    >>> stop_logging(); current_log() is None
    True
    >>> import shutil; shutil.rmtree(folder.parent)
    """
    stop_logging()
    path = Path(folder) / LOG_NAME
    handler = _Handler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(Redactor())
    handler.setLevel(level)
    root = logging.getLogger()
    handler._minsheng = root.level   # ours, and the level to put back
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    return path


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if hasattr(h, "_minsheng")]


def stop_logging() -> None:
    """Close the log file (safe to call when none is open)."""
    root = logging.getLogger()
    for handler in _ours():
        root.removeHandler(handler)
        handler.close()
        root.setLevel(handler._minsheng)


def current_log() -> Path | None:
    """The file records go to now, or None before :func:`setup_logging`."""
    handlers = _ours()
    return Path(handlers[0].baseFilename) if handlers else None


def user_data_folder() -> Path:
    """The application's own data folder (the default place of the store, the demo and the
    window's log); not created here."""
    return Path(platformdirs.user_data_dir(APP_ID, appauthor=False))


def log_bug(error: BaseException, where: str = "") -> bool:
    """Write an unexpected ``error`` with its traceback to the log, once; returns whether
    it was written now (False when it was logged before)."""
    try:
        if getattr(error, "__minsheng_logged__", False):
            return False
        error.__minsheng_logged__ = True
    except AttributeError:  # an exception type that takes no attributes: log it anyway
        pass
    logger.error("程序内部出错%s：%s", f"（{where}）" if where else "", type(error).__name__,
                 exc_info=(type(error), error, error.__traceback__))
    return True
