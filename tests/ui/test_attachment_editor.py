"""Photos in the record form: add (picker or drop), refuse bad files, thumbnails, view, remove."""
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from support import TODAY

from desktop_app.core.catalog.attachment_refs import parse_refs
from desktop_app.core.store.attachments import Attachments
from desktop_app.core.store.database import Store
from desktop_app.ui.attachment_editor import ImageViewer
from desktop_app.ui.record_form import RecordForm

FIXTURES = Path(__file__).parent.parent / "fixtures"
PHOTO, INTERLACED, PDF = FIXTURES / "photo.jpg", FIXTURES / "interlaced.png", FIXTURES / "acceptance.pdf"


def first_row(reader, ledger: str) -> str:
    """The first row whose dates all lie on or before TODAY (the form judges dates by it)."""
    led = reader.ledger(ledger)
    dates = [f.id for f in led.ledger.fields if f.type == "date"]
    return next(r["uuid"] for r in led.rows() if all((r[d] or "") <= TODAY.isoformat() for d in dates))


def open_form(qtbot, runner, reader, uid):
    form = RecordForm(runner, reader, "barrier_free", uuid=uid, today=TODAY)
    qtbot.addWidget(form)
    form.show()
    return form


def test_add_view_remove_and_save(qtbot, runner, reader, demo_path, tmp_path):
    uid = first_row(reader, "barrier_free")
    form = open_form(qtbot, runner, reader, uid)
    editor = form.editors["photos_before"]
    before = parse_refs(reader.ledger("barrier_free").get(uid)["photos_before"])
    fake = tmp_path / "改造前.jpg"
    fake.write_bytes(b"GIF89a not a jpeg")
    with qtbot.waitSignal(editor.changed, timeout=10_000):
        editor.add_files([PHOTO, fake, INTERLACED])
    assert [r["name"] for r in editor.refs][len(before):] == ["photo.jpg", "interlaced.png"]
    assert "改造前.jpg 不是图片或 PDF" in editor.message.text()
    qtbot.waitUntil(lambda: all(not editor.list.item(i).icon().isNull() for i in range(editor.list.count())))
    viewer = editor.open_file(editor.refs[-1]["sha256"])
    qtbot.addWidget(viewer)
    assert isinstance(viewer, ImageViewer) and viewer.image.pixmap().width() == 97
    editor.remove(editor.refs[-1]["sha256"])
    assert editor.list.count() == len(before) + 1
    with qtbot.waitSignal(form.saved, timeout=10_000):
        form.save()
    store = Store.open_readonly(demo_path)
    try:
        refs = parse_refs(store.ledger("barrier_free").get(uid)["photos_before"])
        assert refs[-1]["name"] == "photo.jpg" and Attachments(store).has(refs[-1]["sha256"])
    finally:
        store.close()


def test_a_pdf_is_refused_where_only_photos_go_and_drop_adds(qtbot, runner, reader):
    form = open_form(qtbot, runner, reader, first_row(reader, "barrier_free"))
    photos, scan = form.editors["photos_after"], form.editors["acceptance_scan"]
    with qtbot.waitSignal(photos.failed, timeout=10_000) as said:
        photos.add_files([PDF])
    assert "是PDF 文件，这一栏只能添加JPEG 图片、PNG 图片" in said.args[0]
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(PDF))])
    drop = QDropEvent(QPointF(10, 10), Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
    with qtbot.waitSignal(scan.changed, timeout=10_000):
        scan.dropEvent(drop)
    assert scan.refs[-1]["type"] == "pdf" and scan.list.item(scan.list.count() - 1).text() == "acceptance.pdf"


def test_big_photos_are_scaled_down_unless_kept(qtbot, runner, reader, tmp_path):
    from PySide6.QtGui import QColor, QImage
    image = QImage(3000, 2000, QImage.Format_RGB888)
    image.fill(QColor("#3a7"))
    big = tmp_path / "大照片.jpg"
    assert image.save(str(big), "JPG", 95)
    form = open_form(qtbot, runner, reader, first_row(reader, "barrier_free"))
    editor = form.editors["photos_after"]
    with qtbot.waitSignal(editor.changed, timeout=10_000):
        editor.add_files([big])
    scaled = editor.refs[-1]
    assert scaled["name"] == "大照片.jpg"
    data = runner.call(lambda store: Attachments(store).read(scaled["sha256"]))
    assert QImage.fromData(data).width() == 2560
    editor.keep_original.setChecked(True)
    editor.remove(scaled["sha256"])
    with qtbot.waitSignal(editor.changed, timeout=10_000):
        editor.add_files([big])
    assert editor.refs[-1]["size"] == big.stat().st_size


def test_read_only_at_the_district_shows_but_does_not_edit(qtbot, runner, reader):
    form = open_form(qtbot, runner, reader, first_row(reader, "barrier_free"))
    editor = form.editors["photos_before"]
    editor.setReadOnly(True)
    assert not editor.add_button.isVisible() and not editor.remove_button.isVisible()
    assert editor.open_button.isVisible()


def test_the_sync_page_says_how_many_files_arrived():
    from desktop_app.core.sync import ImportSummary
    from desktop_app.ui.sync_page import SyncPage
    notes = SyncPage._notes([ImportSummary("镇_第1号.mstz", "imported", files=3,
                                           warnings=["有 1 个附件（照片、扫描件）尚未收到"])])
    assert "收到附件（照片、扫描件）3 个" in notes[0] and "尚未收到" in notes[1]


def test_a_pdf_opens_as_a_pdf_whatever_its_name(qtbot, runner, reader, tmp_path, monkeypatch):
    from desktop_app.ui import attachment_editor
    opened = []
    monkeypatch.setattr(attachment_editor.QDesktopServices, "openUrl", lambda url: opened.append(url))
    renamed = tmp_path / "验收单.jpg"
    renamed.write_bytes(PDF.read_bytes())
    form = open_form(qtbot, runner, reader, first_row(reader, "barrier_free"))
    scan = form.editors["acceptance_scan"]
    with qtbot.waitSignal(scan.changed, timeout=10_000):
        scan.add_files([renamed])
    path = scan.open_file(scan.refs[-1]["sha256"])
    assert path.name == "验收单.pdf" and path.read_bytes() == PDF.read_bytes()
    assert opened[0].toLocalFile() == str(path)
