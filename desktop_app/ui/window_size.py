"""Every window fits the screen it opens on, and comes back at the size the user left it.

The most common office screen is 1366×768 with a task bar (1366×728 left for windows);
a window taller than that hides its buttons, its status bar and its scroll bar. A window
or dialog calls :func:`fit_window` once it is built: it gets the size the user left it at
last time (saved in the program's settings under ``key`` when it was closed or hidden),
or else its usual ``size`` — either way made no larger than the available area of its
screen less the window frame, and a window without a parent is moved onto that screen
whole (a saved place on a screen that is gone, or a lower resolution since).

The arithmetic works on rectangles, so tests can pass any screen:

    >>> from PySide6.QtCore import QRect, QSize
    >>> fitted_size(QSize(1360, 820), QRect(0, 0, 1366, 728))
    PySide6.QtCore.QSize(1350, 689)
    >>> clamped(QRect(900, 500, 800, 600), QRect(0, 0, 1366, 728))
    PySide6.QtCore.QRect(558, 120, 800, 600)
    >>> clamped(QRect(10, 40, 1600, 900), QRect(0, 0, 1280, 680))
    PySide6.QtCore.QRect(8, 31, 1264, 641)

Tests replace :func:`available_geometry` to open every window on a 1366×728 or a
1280×680 screen (``QT_QPA_PLATFORM=offscreen`` has one fixed screen).
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QMargins, QObject, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QWidget

# a title bar and borders (Windows 10/11 at 100 %), used until the real frame is known
FRAME = QMargins(8, 31, 8, 8)
GROUP = "windows"


def available_geometry(widget: QWidget) -> QRect:
    """The available area (without the task bar) of the screen ``widget`` opens on."""
    anchor = widget.parentWidget() or widget
    return anchor.screen().availableGeometry()


def room(screen: QRect, frame: QMargins = FRAME) -> QRect:
    """Where the inside of a window may lie on ``screen`` so that its frame fits."""
    return screen.marginsRemoved(frame)


def fitted_size(wanted: QSize, screen: QRect, frame: QMargins = FRAME) -> QSize:
    """``wanted``, made no larger than ``screen`` allows for a window's inside."""
    return wanted.boundedTo(room(screen, frame).size())


def clamped(rect: QRect, screen: QRect, frame: QMargins = FRAME) -> QRect:
    """``rect`` (a window's inside) no larger than ``screen`` allows, moved onto it whole."""
    area = room(screen, frame)
    size = rect.size().boundedTo(area.size())
    x = min(max(rect.x(), area.x()), area.x() + area.width() - size.width())
    y = min(max(rect.y(), area.y()), area.y() + area.height() - size.height())
    return QRect(QPoint(x, y), size)


def frame_margins(frame: QRect, inside: QRect) -> QMargins:
    """The title bar and borders around a window's ``inside``, from its ``frame``.

    >>> m = frame_margins(QRect(0, 0, 1000, 740), QRect(7, 32, 986, 701))
    >>> m.left(), m.top(), m.right(), m.bottom()
    (7, 32, 7, 7)
    """
    return QMargins(inside.left() - frame.left(), inside.top() - frame.top(),
                    frame.right() - inside.right(), frame.bottom() - inside.bottom())


def centred(size: QSize, screen: QRect, frame: QMargins = FRAME) -> QRect:
    """A window's inside of ``size`` (fitted) in the middle of ``screen``."""
    area = room(screen, frame)
    size = size.boundedTo(area.size())
    return QRect(area.x() + (area.width() - size.width()) // 2,
                 area.y() + (area.height() - size.height()) // 2, size.width(), size.height())


def fit_window(window: QWidget, key: str, size: QSize | None = None) -> None:
    """Give ``window`` its remembered or usual ``size`` (default: what its layout asks for),
    fitted to its screen, and remember its size (and, for a window without a parent, its
    place and whether it was maximized) when it is closed or hidden."""
    screen = available_geometry(window)
    saved, maximized = _load(key)
    if saved is not None:
        rect = clamped(saved, screen)
    else:
        rect = centred(size if size is not None else window.sizeHint(), screen)
    if window.parentWidget() is None:
        window.setGeometry(rect)
        if maximized:
            window.setWindowState(window.windowState() | Qt.WindowMaximized)
    else:       # a dialog opens over its window (Qt centres it there)
        window.resize(rect.size())
    window._size_keeper = _Keeper(window, key)   # the wrapper lives as long as the window's
    window.installEventFilter(window._size_keeper)


def grow_to_content(window: QWidget) -> None:
    """Make ``window`` as tall as its rows need at its width — word-wrapped notes shown since
    it was sized need more than Qt's minimum, which counts them short, and rows would
    overlap — and no taller than its screen allows, kept on that screen."""
    layout = window.layout()
    if layout is None or not layout.hasHeightForWidth():
        return
    need = layout.totalHeightForWidth(window.width())
    if need > window.height():
        window.setGeometry(clamped(QRect(window.geometry().topLeft(), QSize(window.width(), need)),
                                   available_geometry(window)))


class _Keeper(QObject):
    """Saves the window's size when it closes or hides; on show, pulls a frame that came out
    larger than the screen (a real title bar taller than :data:`FRAME`) back onto it."""

    def __init__(self, window: QWidget, key: str):
        super().__init__(window)
        self.key = key

    def eventFilter(self, obj, event) -> bool:
        key = getattr(self, "key", None)   # None: a wrapper made while the window is destroyed
        if key is None or not isinstance(obj, QWidget) or not obj.isWindow():
            return False
        kind = event.type()
        if kind in (QEvent.Hide, QEvent.Close):
            _save(key, obj)
        elif kind == QEvent.Show and not obj.isMaximized():
            _refit(obj)
        return False


def _refit(window: QWidget) -> None:
    screen = available_geometry(window)
    frame, inside = window.frameGeometry(), window.geometry()
    if frame != inside and not screen.contains(frame):   # decorated, and larger than assumed
        window.setGeometry(clamped(inside, screen, frame_margins(frame, inside)))


def _settings():
    from .app import settings
    return settings()


def _load(key: str) -> tuple[QRect | None, bool]:
    s = _settings()
    rect = s.value(f"{GROUP}/{key}/geometry")
    maximized = s.value(f"{GROUP}/{key}/maximized", False, type=bool)
    if not isinstance(rect, QRect) or rect.width() <= 0 or rect.height() <= 0:
        return None, False
    return rect, maximized


def _save(key: str, window: QWidget) -> None:
    maximized = window.isMaximized()
    rect = window.normalGeometry() if maximized else window.geometry()
    if rect.width() <= 0 or rect.height() <= 0:
        return
    s = _settings()
    s.setValue(f"{GROUP}/{key}/geometry", rect)
    s.setValue(f"{GROUP}/{key}/maximized", maximized)
