"""Photos with Qt's image readers (outside core, like printing): decode check, downscale,
thumbnails. Used by the app and the command line before core stores a file.

Core has already refused wrong kinds, oversized files and images with too many
pixels (:func:`desktop_app.core.store.attachments.inspect`); here the image is really
decoded (a corrupt photo is refused) under Qt's allocation limit, and a photo
longer than ``max_edge`` is scaled down unless the original is to be kept.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QImage, QImageReader, QImageWriter

from .core.store import PHOTO_MAX_EDGE, AttachmentError, inspect, sniff

ALLOCATION_LIMIT_MB = 512   # Qt refuses to decode anything needing more memory
JPEG_QUALITY = 88

QImageReader.setAllocationLimit(ALLOCATION_LIMIT_MB)


def _reader(source, kind: str) -> QImageReader:
    """A reader for a JPEG or PNG only: the format is fixed from the sniffed content, never
    guessed by Qt (whose plugins include SVG, which parses scripts and fetches links)."""
    reader = QImageReader(source, {"jpeg": b"jpeg", "png": b"png"}[kind])
    reader.setAutoDetectImageFormat(False)
    reader.setDecideFormatFromContent(False)
    reader.setAutoTransform(True)  # phones store portrait photos rotated, with an EXIF tag
    return reader


def prepare(path: Path | str, *, max_edge: int | None = PHOTO_MAX_EDGE,
            keep_original: bool = False, kinds=("jpeg", "png", "pdf"),
            max_mb: float | None = None) -> Path:
    """The file to store for ``path``: itself, or a scaled-down JPEG copy in a private
    temporary folder (same name). An image that does not decode is refused.

    :raises AttachmentError: naming the file and what to do.
    """
    path = Path(path)
    info = inspect(path, kinds=kinds, max_mb=max_mb)
    if info.kind == "pdf":
        return path
    reader = _reader(str(path), info.kind)
    image = reader.read()
    if image.isNull():
        raise AttachmentError(f"{path.name} 无法显示（图片已损坏，或格式不受支持：{reader.errorString()}）；"
                              "请重新拍摄或导出")
    if keep_original or not max_edge or max(image.width(), image.height()) <= max_edge:
        return path
    scaled = image.scaled(QSize(max_edge, max_edge), Qt.KeepAspectRatio, Qt.SmoothTransformation)
    folder = Path(tempfile.mkdtemp(prefix="minsheng-photo-"))
    out = folder / (path.stem + ".jpg")
    writer = QImageWriter(str(out), b"jpeg")
    writer.setQuality(JPEG_QUALITY)
    if not writer.write(scaled.convertToFormat(QImage.Format_RGB888)):
        raise AttachmentError(f"{path.name} 缩小后无法保存（{writer.errorString()}）")
    return out


def thumbnail(data: bytes, edge: int = 160) -> QImage:
    """A small image of a stored photo (a null QImage when it does not decode, or when its
    content is not a JPEG or PNG: an SVG or HTML file is never handed to Qt's plugins)."""
    kind = sniff(data[:16])
    if kind not in ("jpeg", "png"):
        return QImage()
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.ReadOnly)
    reader = _reader(buffer, kind)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > edge:
        reader.setScaledSize(size.scaled(edge, edge, Qt.KeepAspectRatio))
    return reader.read()
