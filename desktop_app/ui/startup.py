"""Before the main window: the demo store, and stores that cannot be opened."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from ..core.errors import StoreError
from ..core.store import Store
from .errors import failure_text
from .tasks import TaskRunner


def run_with_progress(label: str, fn, *, parent=None):
    """Run ``fn()`` off the GUI thread while a busy dialog (no 取消) keeps the window alive;
    return its result or raise its error. Works before any store exists: the work runs on
    a store-less :class:`~.tasks.TaskRunner` made for it (an unexpected error is logged)."""
    runner = TaskRunner(None)
    try:
        return runner.run_and_wait(lambda _store, _progress: fn(), label=label, parent=parent,
                                   cancellable=False, delay_ms=0)
    finally:
        runner.shutdown()


def ensure_demo(path: Path) -> Path | None:
    """The demo store at ``path``, generated (a few seconds) when missing."""
    if path.exists():
        return path
    from ..core.demo import create_demo
    try:
        run_with_progress("正在生成示例数据库（示例人员均以“示例”开头）…",
                          lambda: create_demo(path).close())
    except (StoreError, OSError) as exc:   # anything else is a bug: logged and shown by the caller
        QMessageBox.critical(None, "无法生成示例数据库", failure_text(exc))
        return None
    return path


def open_store_or_explain(path: Path, parent=None) -> bool:
    """Check that ``path`` can be opened here: not open in another window, not damaged (else
    offer the newest good backup), not from a newer version. Otherwise say why and what to do."""
    from ..core.store import Locked, check_free, store_problem
    try:
        check_free(path)
    except Locked as exc:
        QMessageBox.warning(parent, "数据库已打开", str(exc))
        return False
    except OSError:
        pass  # a read-only folder: Store.open below says what is wrong
    if path.is_file():
        problem = run_with_progress("正在检查数据库是否完好…", lambda: store_problem(path),
                                    parent=parent)
        if problem is not None and not offer_restore(path, problem, parent):
            return False
    try:
        Store.open(path).close()
        return True
    except StoreError as exc:
        QMessageBox.critical(parent, "无法打开数据库", str(exc))
        return False


def offer_restore(path: Path, problem: str, parent=None) -> bool:
    """The store is damaged: restore the newest good backup (the damaged file is kept)."""
    from ..core.store import newest_good, restore_store
    good = newest_good(path)
    if good is None:
        QMessageBox.critical(parent, "数据库已损坏",
                             f"{path.name} 已损坏（{problem}），也没有找到可用的备份。\n\n"
                             "请不要删除这个文件，联系技术人员修复；如有另存到 U 盘的备份，"
                             "可在“用户 → 备份与恢复”中从文件恢复。")
        return False
    answer = QMessageBox.question(
        parent, "数据库已损坏",
        f"{path.name} 已损坏（{problem}）。\n\n最近一份完好的备份是 {good.created:%Y-%m-%d %H:%M}"
        f"（{good.label}）。要用它恢复吗？\n\n损坏的文件会原样保存在备份文件夹里，不会删除；"
        "备份之后录入的内容需要重新录入或重新导入。")
    if answer != QMessageBox.Yes:
        return False
    try:
        kept = run_with_progress("正在从备份恢复…", lambda: restore_store(path, good.path), parent=parent)
    except StoreError as exc:
        QMessageBox.critical(parent, "无法恢复", str(exc))
        return False
    QMessageBox.information(parent, "已恢复", f"已从 {good.created:%Y-%m-%d %H:%M} 的备份恢复。"
                            + (f"\n损坏的文件保存为 {kept.path}" if kept else ""))
    return True


def log_in(path: Path, parent=None):
    """The log-in dialog (or the first 管理员); returns the session, or None when cancelled."""
    from ..core.demo import DEMO_PASSWORD, DEMO_USERS
    from ..core.store import add_user, has_users, login
    from .login_dialog import LoginDialog
    with Store.open(path) as store:
        first = not has_users(store)
        org = store.orgs.get(store.node.org)
        unit, operator, demo = org.name if org else store.node.org, store.node.operator, store.setting("demo")

    def attempt(name, password):
        with Store.open(path) as store:
            return login(store, name, password)

    def create(name, password):
        with Store.open(path) as store:
            add_user(store, name, password, "管理员")
            return login(store, name, password)
    hint = (f"示例数据库：用户 {'、'.join(n for n, _ in DEMO_USERS)}（管理员、审核员、录入员），"
            f"密码都是 {DEMO_PASSWORD}" if demo else "")
    dialog = LoginDialog(unit=unit, attempt=attempt, create=create, first=first,
                         user=operator if first or demo else "", hint=hint, parent=parent)
    if dialog.exec() != LoginDialog.Accepted:
        return None
    return dialog.session
