"""Before the main window: the demo store, the log-in (which opens the encrypted store),
the 恢复码, and stores that cannot be opened."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from ..core.errors import StoreError
from ..core.store import Store
from .errors import failure_text
from .tasks import TaskRunner


def run_with_progress(label: str, fn, *, parent=None, delay_ms: int = 0):
    """Run ``fn()`` off the GUI thread while a busy dialog (no 取消) keeps the window alive;
    return its result or raise its error. Works before any store exists: the work runs on
    a store-less :class:`~.tasks.TaskRunner` made for it (an unexpected error is logged)."""
    runner = TaskRunner(None)
    try:
        return runner.run_and_wait(lambda _store, _progress: fn(), label=label, parent=parent,
                                   cancellable=False, delay_ms=delay_ms)
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
    offer the newest good backup), not from a newer version. Otherwise say why and what to do.

    An encrypted store with users can be checked only after the log-in (the password
    unwraps its key): :func:`check_after_login` does the rest then."""
    from ..core.store import Locked, check_free, store_problem
    from .attachment_editor import remove_view_copies
    remove_view_copies(stale=True)
    try:
        check_free(path)
    except Locked as exc:
        QMessageBox.warning(parent, "数据库已打开", str(exc))
        return False
    except OSError:
        pass  # a read-only folder: Store.open below says what is wrong
    try:
        needs_login = Store.needs_login(path)
    except StoreError as exc:      # an encrypted store without its key sidecar
        QMessageBox.critical(parent, "无法打开数据库", str(exc))
        return False
    if path.is_file():
        problem = run_with_progress("正在检查数据库是否完好…", lambda: store_problem(path),
                                    parent=parent)
        if problem is not None and not offer_restore(path, problem, parent):
            return False
    if needs_login:
        return True
    try:
        run_with_progress("正在打开数据库…", lambda: Store.open(path).close(), parent=parent, delay_ms=400)
        return True
    except StoreError as exc:
        QMessageBox.critical(parent, "无法打开数据库", str(exc))
        return False


def check_after_login(path: Path, session, parent=None) -> bool:
    """After the log-in (the key is known now): the same checks as before it, and the users
    table must agree with the sidecar (:meth:`Store.open` with the session)."""
    from ..core.store import store_problem
    problem = run_with_progress("正在检查数据库是否完好…", lambda: store_problem(path), parent=parent)
    if problem is not None:
        if session is not None and session.role != "管理员":
            QMessageBox.critical(parent, "数据库已损坏",
                                 f"{path.name} 已损坏（{problem}）。请管理员登录后从备份恢复；"
                                 "损坏的文件不要删除。")
            return False
        if not offer_restore(path, problem, parent, session=session):
            return False
    try:
        run_with_progress("正在打开数据库…", lambda: Store.open(path, session=session).close(),
                          parent=parent, delay_ms=400)
        return True
    except StoreError as exc:
        QMessageBox.critical(parent, "无法打开数据库", str(exc))
        return False


def offer_restore(path: Path, problem: str, parent=None, *, session=None) -> bool:
    """The store is damaged: restore the newest good backup (the damaged file is kept; its
    key is known after the log-in or for a store without users)."""
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
        kept = run_with_progress("正在从备份恢复…", lambda: restore_store(path, good.path, session=session),
                                 parent=parent)
    except StoreError as exc:
        QMessageBox.critical(parent, "无法恢复", str(exc))
        return False
    QMessageBox.information(parent, "已恢复", f"已从 {good.created:%Y-%m-%d %H:%M} 的备份恢复。"
                            + (f"\n损坏的文件保存为 {kept.path}" if kept else ""))
    return True


def log_in(path: Path, parent=None):
    """The log-in dialog (or the first 管理员, then the 恢复码); returns the session, or None
    when cancelled. The password unwraps the store's key (remembered for this program)."""
    from ..core.demo import DEMO_PASSWORD, DEMO_USERS
    from ..core.store import add_user, login, store_problem
    from .login_dialog import LoginDialog
    first = not Store.needs_login(path)
    label = Store.label(path)      # what the sidecar says without a key: the unit, a demo
    unit, operator, demo = label.get("unit") or path.stem, "", label.get("demo")
    if first:
        with Store.open(path) as store:
            org = store.orgs.get(store.node.org)
            unit, operator = org.name if org else store.node.org, store.node.operator

    def attempt(name, password):
        session = run_with_progress("正在登录…", lambda: Store.authenticate(path, name, password),
                                    parent=parent, delay_ms=400)
        if store_problem(path) is None:   # a damaged store: check_after_login offers a backup
            with Store.open(path, session=session) as store:
                notes = store.notes       # a store made before encryption was encrypted now
            if notes:
                QMessageBox.information(parent, "数据库已加密", "\n\n".join(notes))
        return session

    def create(name, password):
        with Store.open(path) as store:
            code = add_user(store, name, password, "管理员")
            session = login(store, name, password)
        if code:
            show_recovery_code(code, unit, parent)
        return session

    def recover():
        from .recovery_dialog import RecoverDialog
        dialog = RecoverDialog(path, parent)
        if dialog.exec() != RecoverDialog.Accepted or dialog.result is None:
            return None
        name, code = dialog.result
        show_recovery_code(code, unit, parent)
        return name
    hint = (f"示例数据库：用户 {'、'.join(n for n, _ in DEMO_USERS)}（管理员、审核员、录入员），"
            f"密码都是 {DEMO_PASSWORD}" if demo and not first else "")
    dialog = LoginDialog(unit=unit, attempt=attempt, create=create, first=first,
                         user=operator if first else "", hint=hint, recover=recover, parent=parent)
    if dialog.exec() != LoginDialog.Accepted:
        return None
    return dialog.session


def show_recovery_code(code: str, unit: str = "", parent=None) -> None:
    """The 恢复码, once: printed or copied, and 我已妥善保存 ticked before going on."""
    from .recovery_dialog import RecoveryCodeDialog
    RecoveryCodeDialog(code, unit=unit, parent=parent).exec()
