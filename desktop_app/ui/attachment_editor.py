"""The editor of an attachment field (改造前照片 …): thumbnails, add, open, remove.

Files are added with 添加… or by dragging them onto the list; each is checked and
stored by core on the store thread (the photo is scaled down unless 保留原图),
and the field holds the references until the form is saved. Removing a file
changes the field (an audited change when the row is saved; the stored file
stays). Thumbnails are made on the store thread from the verified bytes.

Viewing decrypts in memory: a photo is shown from the bytes; a PDF opens in the
system's reader from a private plaintext copy in a temporary folder, deleted when the
record form holding the editor closes, when the program quits, and at the next start if the
program was killed (:func:`remove_view_copies`).

For tests: ``add_files(paths)`` then wait for ``changed``; ``refs``;
``remove(sha)``; ``open_file(sha)`` returns the viewer (a PDF opens outside).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import partial
from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from ..core.catalog import ATTACHMENT_KINDS as KINDS
from ..core.catalog import Field, parse_refs
from ..core.store import Attachments, photo_max_edge
from .window_size import available_geometry, fit_window, room

SHA_ROLE = Qt.UserRole + 1
VIEW_PREFIX = "minsheng-view-"
_view_copies: set[Path] = set()   # folders holding plaintext copies opened outside


def remove_view_copies(folders=None, *, stale: bool = False) -> None:
    """Delete plaintext viewing copies: ``folders`` (default: all this program made); with
    ``stale`` also those a killed program left in the temporary folder."""
    targets = set(_view_copies if folders is None else folders)
    if stale:   # left by a program that was killed (not this one's: they may be open)
        targets |= set(Path(tempfile.gettempdir()).glob(VIEW_PREFIX + "*")) - _view_copies
    for folder in targets:
        shutil.rmtree(folder, ignore_errors=True)   # a reader holding it open (Windows): next time
        if not folder.exists():
            _view_copies.discard(folder)


atexit.register(remove_view_copies)
PATTERNS = {"jpeg": "*.jpg *.jpeg *.JPG *.JPEG", "png": "*.png *.PNG", "pdf": "*.pdf *.PDF"}


class AttachmentEditor(QWidget):
    changed = Signal()
    failed = Signal(str)

    def __init__(self, field: Field, runner, parent=None):
        super().__init__(parent)
        self.field, self.runner = field, runner
        self.refs: list[dict] = []
        self._thumbs: dict[str, QPixmap] = {}
        self.busy = False
        self._copies: list[Path] = []   # plaintext PDF copies opened from this editor
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.IconMode)
        self.list.setIconSize(QSize(96, 96))
        self.list.setGridSize(QSize(120, 130))
        self.list.setFlow(QListWidget.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListWidget.Static)
        self.list.setWordWrap(True)
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.list.setFixedHeight(140)  # one row of thumbnails; more scroll sideways
        self.list.setAcceptDrops(False)
        self.list.itemDoubleClicked.connect(lambda item: self.open_file(item.data(SHA_ROLE)))
        self.list.currentItemChanged.connect(lambda *_: self._update())
        self.setAcceptDrops(True)
        self.add_button = QPushButton("添加…")
        self.add_button.clicked.connect(self._pick)
        self.open_button = QPushButton("查看")
        self.open_button.clicked.connect(lambda: self._current() and self.open_file(self._current()))
        self.remove_button = QPushButton("移除")
        self.remove_button.clicked.connect(lambda: self._current() and self.remove(self._current()))
        self.keep_original = QCheckBox("保留原图")
        self.keep_original.setToolTip("默认把过大的照片缩小（长边像素数由管理员在“用户管理”中设置）以节省空间和传输时间")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c62828")
        kinds = "、".join(KINDS[k] for k in field.kinds)
        self.hint = QLabel(f"可拖入或添加 {kinds}" + (f"，最多 {field.max_files} 个" if field.max_files else ""))
        self.hint.setStyleSheet("color: #555555")
        for b in (self.add_button, self.open_button, self.remove_button):
            b.setAutoDefault(False)   # Enter in the record form saves; it never picks files
        buttons = QHBoxLayout()
        for w in (self.add_button, self.open_button, self.remove_button, self.keep_original):
            buttons.addWidget(w)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
        layout.addWidget(self.message)
        self.setFocusProxy(self.list)   # the form's tab order reaches the files, then the buttons
        self._update()

    # -- the editor interface of the record form
    def tab_widgets(self) -> tuple:
        """The widgets a Tab visits, in order (the form chains them with its other editors)."""
        return (self.list, self.add_button, self.open_button, self.remove_button, self.keep_original)

    def raw(self) -> list[dict]:
        return list(self.refs)

    def set_value(self, value) -> None:
        try:
            self.refs = parse_refs(value)
        except ValueError:
            self.refs = []
        self._fill()

    def setReadOnly(self, on: bool) -> None:
        for w in (self.add_button, self.remove_button, self.keep_original):
            w.setVisible(not on)
        self.setAcceptDrops(not on)

    # -- list
    def _current(self) -> str | None:
        item = self.list.currentItem()
        return item.data(SHA_ROLE) if item else None

    def _update(self) -> None:
        has = self._current() is not None
        self.open_button.setEnabled(has)
        self.remove_button.setEnabled(has and not self.busy)
        self.add_button.setEnabled(not self.busy)

    def _fill(self) -> None:
        self.list.clear()
        missing = []
        for ref in self.refs:
            item = QListWidgetItem(ref["name"])
            item.setData(SHA_ROLE, ref["sha256"])
            item.setToolTip(f"{ref['name']}（{ref['size'] / 1048576:.1f} MB）")
            thumb = self._thumbs.get(ref["sha256"])
            item.setIcon(QIcon(thumb) if thumb else self.style().standardIcon(
                QStyle.SP_FileIcon if ref["type"] == "pdf" else QStyle.SP_FileDialogContentsView))
            self.list.addItem(item)
            if thumb is None and ref["type"] != "pdf":
                missing.append(ref["sha256"])
        self._update()
        if missing:
            self._load_thumbs(missing)

    def _load_thumbs(self, shas: list[str]) -> None:
        from ..imaging import thumbnail

        def work(store, progress):
            box, out = Attachments(store), {}
            for sha in shas:
                try:
                    out[sha] = thumbnail(box.read(sha), 96)  # a QImage: fine off the GUI thread
                except Exception:  # not received yet or damaged: the file icon stays
                    continue
            return out

        def show(images):
            for sha, image in images.items():
                if not image.isNull():
                    self._thumbs[sha] = QPixmap.fromImage(image)
            for i in range(self.list.count()):
                item = self.list.item(i)
                pix = self._thumbs.get(item.data(SHA_ROLE))
                if pix is not None:
                    item.setIcon(QIcon(pix))
        self.runner.run(work, on_done=show, on_error=lambda e: None)

    # -- adding and removing
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and all(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        self.add_files([Path(u.toLocalFile()) for u in event.mimeData().urls()])
        event.acceptProposedAction()

    def _pick(self) -> None:
        patterns = " ".join(PATTERNS[k] for k in self.field.kinds)
        files, _ = QFileDialog.getOpenFileNames(self, f"添加{self.field.label}", str(Path.home()),
                                                f"照片和扫描件 ({patterns})")
        if files:
            self.add_files([Path(f) for f in files])

    def add_files(self, paths: list[Path]) -> None:
        """Check and store the files (store thread), then list them; ``changed`` follows."""
        from ..imaging import prepare
        field, keep = self.field, self.keep_original.isChecked()
        room = (field.max_files - len(self.refs)) if field.max_files else len(paths)
        if len(paths) > room:
            self._say(f"{field.label}最多 {field.max_files} 个文件，还能添加 {max(room, 0)} 个")
            return

        def work(store, progress):
            box, added, refused = Attachments(store), [], []
            ready = partial(prepare, keep_original=keep, max_edge=photo_max_edge(store))
            for i, path in enumerate(paths):
                progress(i, len(paths), f"正在添加 {path.name}…")
                try:
                    added.append(box.add(path, kinds=field.kinds, max_mb=field.max_mb, prepare=ready))
                except Exception as exc:  # each file's own message; the others still go in
                    refused.append(str(exc))
            return added, refused

        def done(result):
            added, refused = result
            self.busy = False
            known = {r["sha256"] for r in self.refs}
            self.refs += [r for r in added if r["sha256"] not in known]
            self._fill()
            self._say("；".join(refused))
            if added:
                self.changed.emit()

        def failed(error):
            self.busy = False
            self._update()
            self._say(str(error))
        self.busy = True
        self._update()
        self.runner.run(work, on_done=done, on_error=failed, label="正在添加附件…", parent=self)

    def remove(self, sha: str) -> None:
        self.refs = [r for r in self.refs if r["sha256"] != sha]
        self._fill()
        self.changed.emit()

    def eventFilter(self, obj, event) -> bool:
        closing = event.type() == QEvent.Close or (event.type() == QEvent.Hide and not event.spontaneous())
        if closing and obj is self.window() and self._copies:   # closed, saved or cancelled
            remove_view_copies(self._copies)
            self._copies.clear()
        return False

    def _say(self, text: str) -> None:
        self.message.setText(text)
        if text:
            self.failed.emit(text)

    # -- viewing
    def open_file(self, sha: str):
        """Full size in a viewer (an image) or in the system's PDF reader (a private copy)."""
        ref = next((r for r in self.refs if r["sha256"] == sha), None)
        if ref is None:
            return None
        try:
            data = self.runner.call(lambda store: Attachments(store).read(sha))
        except Exception as exc:
            self._say(str(exc))
            return None
        if ref["type"] == "pdf":
            folder = Path(tempfile.mkdtemp(prefix=VIEW_PREFIX))   # 0700: this account only
            _view_copies.add(folder)
            if not self._copies:   # deleted when the form holding this editor closes
                self.window().installEventFilter(self)
            self._copies.append(folder)
            path = folder / (Path(ref["name"]).stem + ".pdf")  # opened by its kind, whatever its name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
            return path
        viewer = ImageViewer(ref["name"], data, self)
        viewer.show()
        self.viewer = viewer
        return viewer


class ImageViewer(QDialog):
    """One photo at full size (scrollable), scaled down to the screen when larger."""

    def __init__(self, name: str, data: bytes, parent=None):
        super().__init__(parent)
        self.setWindowTitle(name)
        self.setAttribute(Qt.WA_DeleteOnClose)
        pixmap = QPixmap()
        pixmap.loadFromData(data)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignCenter)
        screen = room(available_geometry(self)).size() - QSize(40, 40)
        if pixmap.width() > screen.width() or pixmap.height() > screen.height():
            pixmap = pixmap.scaled(screen, Qt.KeepAspectRatio, Qt.SmoothTransformation)
        self.image.setPixmap(pixmap)
        scroll = QScrollArea()
        scroll.setWidget(self.image)
        scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        fit_window(self, "photo", pixmap.size() + QSize(40, 40))
