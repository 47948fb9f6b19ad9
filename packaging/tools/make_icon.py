"""Draw the application icon (run by hand; the PNG and ICO are committed).

    QT_QPA_PLATFORM=offscreen python packaging/tools/make_icon.py
"""
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPainterPath

OUT = Path(__file__).resolve().parents[2] / "resources" / "icons"


def draw(size: int) -> QImage:
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.Antialiasing)
    path = QPainterPath()
    m = size * 0.04
    path.addRoundedRect(QRectF(m, m, size - 2 * m, size - 2 * m), size * 0.18, size * 0.18)
    p.fillPath(path, QColor("#c62828"))
    font = QFont(["WenQuanYi Micro Hei", "Microsoft YaHei", "Noto Sans CJK SC"])
    font.setPixelSize(int(size * 0.62))
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor("#ffffff"))
    p.drawText(QRectF(0, -size * 0.03, size, size), Qt.AlignCenter, "民")
    p.end()
    return image


if __name__ == "__main__":
    app = QGuiApplication([])
    OUT.mkdir(parents=True, exist_ok=True)
    draw(256).save(str(OUT / "app.png"))
    draw(256).save(str(OUT / "app.ico"))
    print(sorted(p.name for p in OUT.iterdir()))
