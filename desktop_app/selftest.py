"""``--selftest``: prove an installation works on the target machine.

Opens temporary stores, runs the core checks (plan catalog, store and
migrations, encryption at rest and the log-in that opens it, validation, Excel
template in and out, a signed encrypted package from a town to the district,
progress, a photo decoded, scaled and stored),
renders the main window offscreen and exits 0 — or names what failed and exits 1. Nothing outside a temporary folder
is touched.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import __version__


def _checks(root: Path):
    from .core.catalog import load_catalog
    from .core.district import compute
    from .core.excel import apply_plan, plan_import, write_template
    from .core.store import Store
    from .core.sync import (confirm_peer, export_package, export_profile, import_package, import_profile,
                            init_from_profile, read_profile)

    catalog = load_catalog()
    yield "计划目录", f"{len(catalog.indicators)} 个指标、{len(catalog.ledgers)} 个台账"
    district = Store.create(root / "d.sqlite3", level="district", org="430971", operator="自检")
    export_profile(district, root / "d.msprofile")
    town = init_from_profile(root / "t.sqlite3", root / "d.msprofile", level="town", org="河坝镇",
                             operator="自检", fingerprint=read_profile(root / "d.msprofile").fingerprint)
    town.add_villages(["自检村"])
    export_profile(town, root / "t.msprofile")
    import_profile(district, root / "t.msprofile")
    confirm_peer(district, "河坝镇", read_profile(root / "t.msprofile").fingerprint)
    yield "数据库与配置文件", "新建区、镇数据库并交换配置文件"
    yield "加密与登录", _encryption_check(root)
    row = {"name": "自检", "id_number": "43090219710916154X", "phone": "13800000000",
           "population": "农村适龄", "institution": "自检", "cervical_date": "2024-03-05",
           "cervical_method": "妇检+TCT", "cervical_result": "正常", "breast_date": "2024-03-05",
           "breast_result": "正常", "birads": "1级"}
    town.ledger("two_cancer").add(row, org="自检村", today=dt.date(2024, 12, 31))
    bad = town.ledger("two_cancer").check({"name": "自检", "id_number": "430902197109161541"})
    assert not bad.ok, "校验没有发现错误的身份证号"
    yield "录入与校验", "保存一条记录，拒绝错误的身份证号"
    template = write_template(town, "two_cancer", root / "模板.xlsx")
    plan = plan_import(town, template, today=dt.date(2024, 12, 31))
    assert plan.ledger.id == "two_cancer"
    apply_plan(town, plan)
    yield "Excel 模板与导入", template.name
    package = export_package(town, root / "usb")
    summary = import_package(district, package.path)
    assert summary.totals()["new"] >= 1, summary.message
    yield "加密数据包", f"{package.path.name}：{summary.message}"
    report = compute(district, dt.date(2024, 12, 31))
    assert report.get("two_cancer_screening").achieved == 1
    yield "进度统计", f"两癌检查完成 {report.get('two_cancer_screening').achieved} 人"
    yield "照片", _photo_check(root, town)
    town.close()
    district.close()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from .ui.app import make_app
    from .ui.main_window import MainWindow
    app = make_app(["selftest"])
    window = MainWindow(root / "d.sqlite3")
    window.show()
    end = time.monotonic() + 10
    while window.dashboard.report is None and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    assert window.dashboard.report is not None, "主窗口没有算出进度"
    image = window.grab()
    assert not image.isNull() and image.width() > 400, "主窗口无法绘制"
    window.close()
    yield "主窗口", f"已绘制 {image.width()}×{image.height()}"


def _encryption_check(root: Path) -> str:
    """The store file is encrypted (SQLCipher), and a password at the production key
    derivation cost (scrypt, 128 MiB) opens it; a wrong one does not."""
    from .core.store import LoginError, Store, add_user
    path = root / "加密自检.sqlite3"
    with Store.create(path, level="town", org="河坝镇", operator="自检") as store:
        code = add_user(store, "自检", "自检密码-2024", "管理员")
    assert not path.read_bytes().startswith(b"SQLite format 3"), "数据库文件没有加密"
    assert code and len(code.replace("-", "")) == 24, "没有生成恢复码"
    t = time.perf_counter()
    with Store.unlock(path, "自检", "自检密码-2024") as store:
        assert store.session.role == "管理员"
    seconds = time.perf_counter() - t
    try:
        Store.unlock(path, "自检", "错误的密码-2024").close()
        raise AssertionError("错误的密码打开了数据库")
    except LoginError:
        pass
    return f"数据库已加密（SQLCipher），用密码登录用时 {seconds:.1f} 秒"


def _photo_check(root: Path, store) -> str:
    """A large JPEG is decoded, scaled down, stored by content and read back verified."""
    from PySide6.QtGui import QColor, QImage

    from .core.store import Attachments
    from .imaging import prepare
    big = QImage(3000, 2000, QImage.Format_RGB888)
    big.fill(QColor("#4a7"))
    path = root / "自检照片.jpg"
    assert big.save(str(path), "JPG", 90), "无法保存 JPEG（缺少 Qt 的 jpeg 插件）"
    ref = Attachments(store).add(path, prepare=lambda p, **kw: prepare(p, max_edge=1000, **kw))
    back = QImage.fromData(Attachments(store).read(ref["sha256"]))
    assert back.width() == 1000, "照片没有按设置缩小"
    return f"{path.name} 3000×2000 缩小为 {back.width()}×{back.height()} 并按校验值保存"


def run() -> int:
    """Run every check; print one line each; 0 when all passed."""
    print(f"民生实事台账 {__version__} 自检（Python {sys.version.split()[0]}，{sys.platform}）")
    root = Path(tempfile.mkdtemp(prefix="minsheng-selftest-"))
    failed = False
    checks = _checks(root)
    try:
        while True:
            try:
                name, detail = next(checks)
            except StopIteration:
                break
            print(f"  ✓ {name}：{detail}", flush=True)
    except Exception as exc:  # the point is to name what failed
        failed = True
        print(f"  ✗ 失败：{type(exc).__name__}：{exc}")
        print("".join(traceback.format_exc(limit=3)), file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("自检未通过" if failed else "自检通过")
    return 1 if failed else 0
