"""命令行：与桌面程序相同的服务，供区里批处理、脚本和测试使用。

    python -m desktop_app.cli init --db 河坝镇.sqlite3 --level town --org 河坝镇 --operator 张三
    python -m desktop_app.cli villages add --db 河坝镇.sqlite3 示例村一 示例村二
    python -m desktop_app.cli add --db 河坝镇.sqlite3 --ledger two_cancer --org 示例村一 \\
        --json-row '{"姓名": "示例一", "身份证号": "43090219710916154X"}'
    python -m desktop_app.cli progress --db 河坝镇.sqlite3 --as-of 2024-06-30 --json

Exit codes: 0 success; 1 the input had problems that were reported and nothing
was written; 2 the input could not be used at all.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
from pathlib import Path

from . import __version__, cli_zh
from .core.catalog import LEVEL_NAMES, load_catalog
from .core.district import UNSPLIT, compute
from .core.errors import INPUT_PROBLEMS, OK, UNUSABLE, UserError, describe, exit_code
from .core.store import RowsRejected, Store


def _out(args, data, text: str | None = None) -> None:
    if getattr(args, "json", False) or text is None:
        print(json.dumps(data, ensure_ascii=False, indent=1, default=str))
    else:
        print(text)


def _password(prompt: str) -> str:
    """The password from MINSHENG_PASSWORD (scripts) or asked at the terminal."""
    password = os.environ.get("MINSHENG_PASSWORD")
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise UserError("需要密码：请在终端运行以便输入，或设置环境变量 MINSHENG_PASSWORD", INPUT_PROBLEMS)
    import getpass
    return getpass.getpass(prompt)


def _open(args) -> Store:
    """Open the store for this command (one writer at a time); a store with users opens only
    with a user's password (it unwraps the database key)."""
    path = Path(args.db)
    if not Store.needs_login(path):
        return Store.open(path, exclusive=True)
    user = getattr(args, "user", None) or os.environ.get("MINSHENG_USER")
    if not user:
        raise UserError("这个数据库设置了用户：请用 --user 指定用户名（密码从环境变量 "
                       "MINSHENG_PASSWORD 读取，或在终端输入）", INPUT_PROBLEMS)
    store = Store.unlock(path, user, _password(f"用户 {user} 的密码："), exclusive=True)
    for note in store.notes:     # a store made before encryption was encrypted now
        print(note, file=sys.stderr)
    return store


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}”不是日期，请写成 2024-06-30") from None


# ---------------------------------------------------------------- commands

def cmd_init(args) -> int:
    from .core.store import MIN_PASSWORD
    password = _password(f"为管理员 {args.operator} 设置密码（至少 {MIN_PASSWORD} 位）：")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"管理员密码至少 {MIN_PASSWORD} 位（MINSHENG_PASSWORD）", INPUT_PROBLEMS)
    if args.profile:
        from .core.sync import init_from_profile
        store = init_from_profile(Path(args.db), Path(args.profile), level=args.level, org=args.org,
                                  operator=args.operator, fingerprint=_upstream_fingerprint(args))
    else:
        store = Store.create(Path(args.db), level=args.level, org=args.org, operator=args.operator)
    with store:
        from .core.store import add_user
        code = add_user(store, args.operator, password, "管理员")
        org = store.orgs.get(store.node.org)
        data = {"db": str(Path(args.db).resolve()), "node": store.node.id, "level": store.node.level,
                "org": org.code, "org_name": org.name, "catalog": store.catalog.version,
                "recovery_code": code}
    _out(args, data, f"已新建{LEVEL_NAMES[data['level']]}级数据库 {data['db']}（{org.name} {org.code}）\n"
         + _recovery_text(code))
    return OK


def _upstream_fingerprint(args) -> str:
    """The upstream's fingerprint as read over the phone: ``--fingerprint``, or shown and
    asked for at a terminal."""
    from .core.sync import read_profile, units_to_start
    profile = read_profile(Path(args.profile))
    units_to_start(profile, args.level, Path(args.profile).name)   # the wrong file: before any call
    if args.fingerprint:
        return args.fingerprint
    name = profile.body.get("org_name", profile.org)
    if args.json or not sys.stdin.isatty():
        raise UserError(f"请先与{name}电话核对其配置文件的指纹，再用 --fingerprint 写上对方读出的指纹"
                        "（没有核对指纹，不能从配置文件新建数据库）", INPUT_PROBLEMS)
    print(f"{name}配置文件的指纹：{profile.fingerprint}\n"
          f"请打电话请{name}读出其本机指纹（同步中心 → 单位与配置文件），一致后在下面输入对方读出的指纹：")
    return input("指纹：")


def _recovery_text(code: str) -> str:
    return (f"恢复码：{code}\n"
            "请现在把恢复码打印或抄写下来，锁进柜子，不要存在这台电脑上；它只显示这一次。"
            "所有管理员都忘记密码时，只有用它（recover 命令）才能重新打开数据库。")


def cmd_villages(args) -> int:
    with _open(args) as store:
        if args.action == "add":
            added = store.add_villages(args.names, town=args.town)
            _out(args, {"added": [o.to_json() for o in added]},
                 "\n".join(f"已添加 {o.name}（代码 {o.code}）" for o in added))
        else:
            tree = store.orgs
            rows = [o for o in tree if o.level == "village" and
                    tree.is_within(o.code, store.node.org)]
            _out(args, {"villages": [o.to_json() for o in rows]},
                 "\n".join(f"{o.code}  {tree.path(o.code)}" for o in rows) or "（还没有村/社区）")
    return OK


def _new_password(name: str) -> str:
    """A new user's password: MINSHENG_NEW_PASSWORD (scripts) or asked twice at the terminal."""
    password = os.environ.get("MINSHENG_NEW_PASSWORD")
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise UserError("需要新密码：请在终端运行以便输入，或设置环境变量 MINSHENG_NEW_PASSWORD",
                       INPUT_PROBLEMS)
    import getpass
    first = getpass.getpass(f"{name} 的新密码：")
    if getpass.getpass("再输入一次：") != first:
        raise UserError("两次输入的密码不一致，未作改动", INPUT_PROBLEMS)
    return first


def cmd_users(args) -> int:
    from .core.store import add_user, list_users, set_active, set_password
    with _open(args) as store:
        if args.action == "add":
            add_user(store, args.name, _new_password(args.name), args.role, unit=args.unit)
            text = f"已添加用户 {args.name}（{args.role}）"
        elif args.action == "passwd":
            name = args.name or (store.session.user if store.session else None)
            if not name:
                raise UserError("请用 --name 指定用户", INPUT_PROBLEMS)
            set_password(store, name, _new_password(name))
            text = f"已修改 {name} 的密码"
        elif args.action in ("disable", "enable"):
            set_active(store, args.name, args.action == "enable")
            text = f"已{'启用' if args.action == 'enable' else '停用'}用户 {args.name}"
        else:
            store.require("admin")
            text = ""
        rows = [{k: u[k] for k in ("name", "role", "unit", "active", "needs_password", "locked_until",
                                   "created")} for u in list_users(store)]
    _out(args, {"users": rows}, text or "\n".join(
        f"{u['name']}  {u['role']}" + ("（已停用）" if not u['active'] else "（需重设密码）"
                                       if u['needs_password'] else "") for u in rows) or "（没有用户）")
    return OK


def cmd_backup(args) -> int:
    from .core.store import copy_to, list_backups, make_backup
    with _open(args) as store:
        if args.list:
            store.require("admin")
            found = list_backups(store.path)
            _out(args, {"backups": [b.to_json() for b in found]}, "\n".join(
                f"{b.created:%Y-%m-%d %H:%M:%S}  {b.label}  {b.size // 1024} KB  {b.path}"
                for b in found) or "（还没有备份）")
            return OK
        if args.out:
            path = copy_to(store, Path(args.out))
        else:
            store.require("admin")
            made = make_backup(store, "manual", force=True)
            path = made.path
    keys = Path(f"{path}.keys")
    _out(args, {"file": str(path), "keys": str(keys)},
         f"已备份到 {path}（已加密，已通过完整性检查）；密钥文件 {keys.name} 必须和它放在一起")
    return OK


def cmd_restore(args) -> int:
    from .core.store import restore_store, unlock_backup
    db, backup_file = Path(args.db), Path(getattr(args, "from"))
    code = getattr(args, "code", None)
    session = password = None
    try:
        store = None if code else _open(args)
    except UserError as exc:
        if exc.exit_code == INPUT_PROBLEMS:   # a wrong password, a role that may not
            raise
        store = None   # a damaged store: the backup's own sidecar decides who may restore it
    if store is not None:
        with store:
            store.require("admin")
            session = store.session
    else:
        user = getattr(args, "user", None) or os.environ.get("MINSHENG_USER")
        if not code and not user:
            raise UserError("数据库无法打开：恢复需要这份备份里的管理员用户名和密码（--user，备份时有效的），"
                           "或恢复码（--code）", INPUT_PROBLEMS)
        password = None if code else _password(f"用户 {user} 的密码（备份时的）：")
        session = unlock_backup(backup_file, user, password, code=code)
    notes: list[str] = []
    saved = restore_store(db, backup_file, session=session, password=password, notes=notes)
    _out(args, {"restored": str(db), "previous": str(saved.path) if saved else None, "notes": notes},
         f"已从 {backup_file} 恢复" + (f"；恢复前的数据已保存在 {saved.path}" if saved else "") +
         "".join(f"\n{n}" for n in notes))
    return OK


def cmd_recover(args) -> int:
    from .core.store import recover_with_code
    name, code = recover_with_code(Path(args.db), args.code, _new_password(args.user or "管理员"),
                                   user=args.user)
    _out(args, {"user": name, "recovery_code": code},
         f"已为管理员 {name} 设置新密码。原来的恢复码已作废，新的" + _recovery_text(code))
    return OK


def cmd_catalog(args) -> int:
    choices = None
    if args.db:
        from .core.catalog import load_choices
        with _open(args) as store:
            catalog, choices = store.catalog, load_choices(store)
    else:
        catalog = load_catalog()
    data = catalog.to_json(choices)
    lines = [f"{catalog.title}（{catalog.version}）"]
    for ind in catalog.indicators:
        target = "—" if ind.target is None else f"{ind.comparator}{ind.target:g}{ind.unit}"
        units = choices.units(ind) if choices else ind.units
        lines.append(f"  {ind.id:40s} {ind.name}  {target}  {'、'.join(units)}")
    _out(args, data, "\n".join(lines))
    return OK


def _purpose(args) -> str:
    if not (args.purpose or "").strip():
        raise UserError("查看或导出完整的个人信息须用 --purpose 写明用途（记入审计日志）", INPUT_PROBLEMS)
    return args.purpose.strip()


def _policy(store, args, source: str, table: str | None = None, rows: int | None = None):
    """The session's masking policy for this command's output; with --reveal the values in
    full, after core's role check and one audit entry with --purpose."""
    from .core.store import policy_for
    policy = policy_for(store)
    if getattr(args, "reveal", False):
        policy = policy.revealed_by(store, purpose=_purpose(args), source=source, table=table, rows=rows)
    return policy


def cmd_records(args) -> int:
    if args.reveal:
        _purpose(args)
    with _open(args) as store:
        records = store.ledger(args.ledger)
        led = records.ledger
        rows = records.rows(org=store.resolve_row_org(args.org) if args.org else None,
                            deleted=args.deleted)
        policy = _policy(store, args, "cli:records", led.table, len(rows))
        out = []
        for r in rows:
            item = {"uuid": r["uuid"], "org": r["org"]}
            item.update({f.id: r.get(f.id) for f in led.fields})
            item = policy.row(led, item)
            item["incomplete"] = bool(r["_incomplete"])
            out.append(item)
    text = "\n".join(f"{r['uuid'][:8]} {r['org']} " + " ".join(
        str(r.get(f.id) or "") for f in led.fields[:6]) for r in out) or "（没有记录）"
    _out(args, {"rows": out}, text)
    return OK


def cmd_add(args) -> int:
    try:
        raw = json.loads(args.json_row)
    except json.JSONDecodeError as exc:
        raise UserError(f"--json-row 不是有效的 JSON（{exc.msg}，第 {exc.colno} 个字符）", INPUT_PROBLEMS)
    if not isinstance(raw, dict):
        raise UserError("--json-row 应是一个对象，例如 '{\"姓名\": \"示例一\"}'", INPUT_PROBLEMS)
    with _open(args) as store:
        records = store.ledger(args.ledger)
        try:
            saved = records.add(raw, org=args.org, source="cli:add",
                                allow_duplicate=args.allow_duplicate)
        except RowsRejected as exc:
            msgs = exc.messages()
            if args.json:
                _out(args, {"ok": False, "errors": [p.to_json() for probs in exc.failures.values()
                                                    for p in probs]})
            for m in msgs:
                print(f"错误：{m}", file=sys.stderr)
            print("未保存任何内容。请改正后重试。", file=sys.stderr)
            return INPUT_PROBLEMS
        data = {"ok": True} | saved.to_json(records.ledger)
    text = f"已保存 {saved.uuid}"
    if saved.incomplete:
        text += "（待补充：" + "、".join(data["missing"]) + "）"
    for w in data["warnings"]:
        text += f"\n提示：{w}"
    _out(args, data, text)
    return OK


def cmd_attach(args) -> int:
    from functools import partial

    from .core.store import attach, detach, photo_max_edge
    with _open(args) as store:
        if args.command == "detach":
            refs = detach(store, args.ledger, args.row, args.field, args.sha256)
        else:
            from .imaging import prepare
            edge = 0 if args.keep_original else photo_max_edge(store)
            refs = attach(store, args.ledger, args.row, args.field, args.files,
                          prepare=partial(prepare, max_edge=edge))
    _out(args, {"uuid": args.row, "field": args.field, "files": refs},
         "\n".join(f"{r['sha256'][:12]}  {r['name']}  {r['size'] / 1048576:.2f} MB" for r in refs)
         or "（没有附件）")
    return OK


def cmd_template(args) -> int:
    from .core.excel import write_template
    with _open(args) as store:
        path = write_template(store, args.ledger, Path(args.out), village=args.village)
    _out(args, {"file": str(path)}, f"已生成模板 {path}")
    return OK


def cmd_export_excel(args) -> int:
    from .core.excel import export_ledger
    if args.deidentify:
        from .core.excel import export_deidentified
        with _open(args) as store:
            path = export_deidentified(store, args.ledger, Path(args.out),
                                       village=args.village, purpose=_purpose(args), reveal=args.reveal,
                                       exact_dates=args.exact_dates)
        _out(args, {"file": str(path), "deidentified": True, "exact_dates": args.exact_dates},
             f"已导出去标识化数据到 {path}" + ("" if args.exact_dates else "（日期只到月）"))
        return OK
    with _open(args) as store:
        result = export_ledger(store, args.ledger, Path(args.out),
                               village=args.village, reveal=args.reveal, purpose=args.purpose)
    _out(args, result.to_json(), f"已导出 {result.rows} 行到 {result.path}" +
         ("（敏感信息已打码）" if result.masked else "（未打码，已记入审计）"))
    return OK


def cmd_import_excel(args) -> int:
    from .core.batch import DRY_RUN_MESSAGE, Workbook, import_workbooks, write_error_books
    items = [Workbook(Path(name), ledger=args.ledger, sheet=args.sheet, village=args.village, org=args.org)
             for name in args.files]
    with _open(args) as store:
        summary = import_workbooks(store, items, accept_valid=args.accept_valid, dry_run=args.dry_run)
        if args.errors:
            write_error_books(store, summary, Path(args.errors))
    data = summary.to_json()
    lines = []
    for result, f in zip(summary.files, data["files"]):
        if f["status"] in ("unusable", "failed"):
            lines.append(f"{f['file']}：{_not_used(result.exit_code)}")
            continue
        unit = f"，单位{f['org_name']}（{f['org_how']}）" if f["org_name"] else f"，{f['org_how']}"
        dry_note = f["message"].removeprefix(DRY_RUN_MESSAGE).removeprefix("。")   # a unit still to name
        lines.append(f"{f['file']}（{f['sheet']}{unit}）：新增 {f['new']}，更新 {f['updated']}，"
                     f"未变 {f['unchanged']}，重复 {f['duplicate']}，待补充 {f['incomplete']}，"
                     f"冲突 {f['conflict']}，不合格 {f['rejected']}，跳过 {f['skipped']}"
                     + ("（试导入，未写入）" + (f"。{dry_note}" if dry_note else "") if f["status"] == "dry-run" else
                        f"。{f['message']}" + (f" 批次 {f['batch']}" if f["batch"] else "")))
        for row in f.get("rows", []) or f["errors"]:
            if row.get("messages"):
                lines.append(f"  第 {row['row']} 行：" + "；".join(row["messages"]))
        if f.get("errors_workbook"):
            lines.append(f"  错误行已写入 {f['errors_workbook']}，改正后可重新导入")
        if f.get("errors_workbook_error"):
            lines.append("  错误行没有写出（原因见下方“错误：”一行）")
    _out(args, data, "\n".join(lines))
    _say_unusable(summary, ("unusable", "failed"))
    books_failed = any(f.entry.get("errors_workbook_error") for f in summary.files)
    for f in summary.files:
        if f.entry.get("errors_workbook_error"):
            print(f"错误：{f.path.name} 的错误行没有写出：{f.entry['errors_workbook_error']}", file=sys.stderr)
    return max(summary.exit_code, UNUSABLE if books_failed else OK)


def _not_used(code: int) -> str:
    """A file's line when the file was not imported at all; its reason goes to stderr."""
    return ("没有导入（输入有问题，原因见下方“错误：”一行）" if code == INPUT_PROBLEMS else
            "无法使用（原因见下方“错误：”一行）")


def _say_unusable(summary, statuses: tuple[str, ...]) -> None:
    """On stderr, why each file that could not be used at all was not imported (the
    message, after the file's name unless it starts with it)."""
    for f in summary.files:
        if f.status in statuses:
            message = f.entry["message"]
            print(f"错误：{message if message.startswith(f.path.name) else f'{f.path.name}：{message}'}",
                  file=sys.stderr)


def cmd_undo_import(args) -> int:
    from .core.excel import undo_import
    with _open(args) as store:
        done = undo_import(store, args.batch)
    _out(args, {"batch": args.batch, **done},
         f"已撤销导入批次 {args.batch}：删除 {done.get('deleted', 0)} 行，恢复 {done.get('restored', 0)} 行")
    return OK


def cmd_profile(args) -> int:
    from .core.sync import export_profile, import_profile, rotate_keys
    if args.action in ("pending", "confirm", "reject"):
        return _profile_trust(args)
    with _open(args) as store:
        if args.action == "rotate":
            rotation = rotate_keys(store, Path(args.out))
            _out(args, rotation.to_json(),
                 f"已更换本机密钥，新的配置文件：{rotation.path}\n"
                 f"新指纹：{rotation.fingerprint}\n"
                 f"原指纹：{rotation.previous_fingerprint}\n"
                 "请把新的配置文件交给所有上下级单位导入，并电话告知新指纹；"
                 "对方导入前发来的数据包仍能导入")
            return OK
        if args.action == "export":
            path = export_profile(store, Path(args.out))
            from .core.store import fingerprint
            fp = fingerprint(store.keys().sign_public)
            _out(args, {"path": str(path), "fingerprint": fp},
                 f"已导出配置文件 {path}\n本机指纹：{fp}（请对方导入时电话核对）")
            return OK
        results = []
        for name in args.files:
            results.append(import_profile(store, Path(name)))
    words = {"pending": "待确认：请电话请对方读出指纹，核对后用 profile confirm 确认（确认前对方的数据包只暂存，不导入）",
             "updated": "已更新", "unchanged": "已是最新", "older": "比已有的旧，未使用",
             "rotated": "对方已更换密钥（由原密钥签发的换钥声明已核验），已接受新指纹"}
    _out(args, {"profiles": results}, "\n".join(
        f"{r['org_name']}（{r['org']}）：{words[r['status']]}；指纹 {r['fingerprint']}"
        + (f"（{r['replaces']}）" if r.get("replaces") else "")
        + (f"（原指纹 {r['previous_fingerprint']}；请电话向对方核对新指纹）" if r["status"] == "rotated" else "")
        + ("；已采用其计划目录" if r["catalog_adopted"] else "") for r in results))
    return OK


def _profile_trust(args) -> int:
    from .core.sync import confirm_peer, pending_peers, reject_peer
    with _open(args) as store:
        if args.action == "pending":
            store.require("admin")
            items = [p.to_json() for p in pending_peers(store)]
            _out(args, {"pending": items}, "\n".join(
                f"{p['name']}（{p['org']}，{p['level']}{'，' + p['replaces'] if p['replaces'] else ''}）："
                f"指纹 {p['fingerprint']}；{p['since'][:16].replace('T', ' ')} 导入；"
                f"暂存数据包 {p['held']} 个" for p in items) or "没有待确认指纹的单位")
            return OK
        if args.action == "reject":
            result = reject_peer(store, args.org)
            gone = result["discarded"]
            _out(args, result, f"已拒绝{result['org_name']}待确认的配置文件（指纹 {result['fingerprint']}）"
                 + (f"；它暂存的 {len(gone)} 个数据包已丢弃：" + "、".join(h["file"] for h in gone)
                    + "。如果拒绝错了，请对方重新发来配置文件，核对指纹确认后再重发这些数据包" if gone else ""))
            return OK
        result = confirm_peer(store, args.org, args.fingerprint)
    if result["already"]:
        _out(args, result, f"{result['org_name']}的指纹已经确认过（{result['fingerprint']}），与输入的一致，"
             "无需再次确认；它的数据包照常导入")
        return OK
    applied = result["applied"]
    _out(args, result, f"已确认{result['org_name']}的指纹，今后接受它的数据包"
         + (f"；原来那台电脑的密钥已停用，它的数据包收到第 {result['old_chain_end']} 号为止，之后的编号不再接收"
            if result["old_chain_end"] is not None else "；原来的密钥已停用" if result["replaced"] else "")
         + (f"\n暂存的数据包 {len(applied)} 个：" + "；".join(
             f"{a['file']}（{_APPLIED.get(a['status'], a['status'])}" + (f"：{a['message']}" if a["status"] == "refused"
                                                                     else "") + "）" for a in applied)
            if applied else ""))
    return INPUT_PROBLEMS if any(a["status"] == "refused" for a in applied) else OK


_APPLIED = {"imported": "已导入", "already": "以前已导入过", "refused": "已拒收", "dry-run": "试导入"}


def cmd_held(args) -> int:
    from .core.sync import accept_held, discard_held, list_held, retry_held
    with _open(args) as store:
        if args.discard:
            gone = discard_held(store, args.discard)
            items = [h.to_json() | {"reason_text": h.reason_text} for h in list_held(store)]
            org = store.orgs.get(gone.source_org)
            _out(args, {"discarded": gone.to_json(), "held": items},
                 f"已丢弃暂存的数据包 {gone.file}（来自{org.name if org else gone.source_org}，{gone.reason_text}）；"
                 "如仍需要其中的数据，请对方重发")
            return OK
        if args.accept:
            done = [accept_held(store, args.accept)]
        elif args.retry:
            done = retry_held(store)
        else:
            done = []
        items = [h.to_json() | {"reason_text": h.reason_text} for h in list_held(store)]
    _out(args, {"applied": [d.to_json() for d in done], "held": items}, "\n".join(
        [f"已导入 {d.file}：{d.message}" for d in done]
        + [f"{h['file']}（{h['reason_text']}，{h['held'][:16].replace('T', ' ')} 暂存）：{h['message']}"
           for h in items]) or "没有暂存的数据包")
    return OK


def cmd_repair_clock(args) -> int:
    from .core.sync import repair_clock
    with _open(args) as store:
        result = repair_clock(store)
    _out(args, result, f"已把本机时钟从 {result['clock_before']} 调回 {result['clock_after']}；"
         f"重写了 {result['rows']} 行、{result['conflicts']} 个冲突的时间戳。"
         "这些行会随下一个数据包发出，对方把它们当作本机的新修改")
    return OK


def _parse_range(text: str) -> tuple[int, int]:
    try:
        a, _, b = text.partition("-")
        lo, hi = int(a), int(b or a)
        if 0 < lo <= hi:
            return lo, hi
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"“{text}”不是序号范围，请写成 5-6 或 5")


def cmd_export_package(args) -> int:
    from .core.sync import export_package
    with _open(args) as store:
        result = export_package(store, Path(args.out), to=args.to, full=args.full, resend=args.resend,
                                volume_bytes=args.volume_mb and int(args.volume_mb * 1048576))
    data = result.to_json()
    text = "\n".join(str(p) for p in [result.path, *result.volumes])
    if result.files or result.files_pending:
        text += f"\n附件 {result.files} 个" + (f"；另有 {result.files_pending} 个本机尚未收到，"
                                              "收到后随下一个数据包发送" if result.files_pending else "")
    _out(args, data, text)
    return OK


def cmd_import_package(args) -> int:
    from .core.batch import import_packages
    with _open(args) as store:
        summary = import_packages(store, [Path(name) for name in args.files], dry_run=args.dry_run)
    data = summary.to_json()
    lines = []
    for f in data["files"]:
        if f["status"] in ("refused", "failed"):
            lines.append(f"{f['file']}：{'已拒绝' if f['status'] == 'refused' else '没有导入'}（原因见下方“错误：”一行）")
            continue
        lines.append(f"{f['file']}：" + ("已暂存，未导入。" if f["status"] == "held" else "")
                     + f["message"]
                     + (f"；收到附件 {f['files_received']} 个" if f["files_received"] else ""))
        lines += [f"  {g}" for g in f["gaps"]]
        lines += [f"  提示：{w}" for w in f["warnings"]]
    _out(args, data, "\n".join(lines))
    _say_unusable(summary, ("refused", "failed"))
    return summary.exit_code


def cmd_conflicts(args) -> int:
    from .core.sync import list_conflicts
    if args.reveal:
        _purpose(args)
    with _open(args) as store:
        store.require("review")
        items = list_conflicts(store, policy=_policy(store, args, "cli:conflicts"))
    _out(args, {"conflicts": items}, "\n".join(
        f"#{c['id']} {c['ledger']} {(c['uuid'] or '人员主档')[:8]} {c['label']}："
        f"本机“{c['mine']}” / 对方“{c['theirs']}”" for c in items) or "没有待处理的冲突")
    return OK


def cmd_resolve(args) -> int:
    from .core.sync import resolve_conflict
    with _open(args) as store:
        result = resolve_conflict(store, args.id, args.keep)
    _out(args, result, f"冲突 #{args.id} 已处理（保留{'本机' if args.keep == 'mine' else '对方'}的值）")
    return OK


def cmd_report(args) -> int:
    from .core.district import monthly_report, monthly_workbook, parse_month
    if not args.pdf and not args.xlsx:
        raise UserError("请用 --pdf 和/或 --xlsx 指定输出文件", INPUT_PROBLEMS)
    year, month = parse_month(args.month)
    written = []
    with _open(args) as store:
        report = monthly_report(store, year, month)
        if args.xlsx:
            written.append(str(monthly_workbook(store, report, Path(args.xlsx))))
        if args.pdf:
            from .core.store import audit_use
            from .printing import monthly_pdf
            written.append(str(monthly_pdf(report, Path(args.pdf))))
            audit_use(store, "print", source=f"print:{Path(args.pdf).name}", purpose=args.purpose,
                      report=f"{year}-{month:02d}")
    _out(args, {"files": written, "lagging": [p.indicator.id for p in report.lagging],
                "issues": report.issues}, "\n".join(f"已生成 {w}" for w in written))
    return OK


def cmd_board(args) -> int:
    from .core.district import set_schedule, submission_board
    with _open(args) as store:
        if args.period or args.due_day:
            period, due = store.setting("schedule_period", "month"), store.setting("schedule_due_day", "5")
            set_schedule(store, args.period or period, args.due_day or int(due))
        lines = submission_board(store, args.as_of)
    words = {"green": "正常", "amber": "需关注", "red": "逾期或缺包"}
    _out(args, {"towns": [line.to_json() for line in lines]}, "\n".join(
        f"{line.name}：{words[line.status]}；最近收到 {line.last_received or '—'}；已收 {line.packages} 个包"
        + (f"；逾期 {'、'.join(line.overdue)}" if line.overdue else "")
        + ("；" + "；".join(line.gaps) if line.gaps else "")
        + (f"；暂存数据包 {line.held} 个" if line.held else "") + (f"；{line.pending}" if line.pending else "")
        + "".join(f"；{h}" for h in line.history) for line in lines))
    return OK


def cmd_duplicates(args) -> int:
    from .core.district import KIND_WORDS, decide, find_duplicates
    from .core.store import policy_for
    with _open(args) as store:
        if args.decide:
            a, b = args.pair
            decide(store, args.ledger, a, b, args.decide, keep=args.keep)
        pairs = find_duplicates(store, args.ledger, policy=policy_for(store))
    _out(args, {"pairs": [p.to_json() for p in pairs]}, "\n".join(
        f"{p.ledger} {p.a['name']}：{p.a['org']} {p.a['date']} / {p.b['org']} {p.b['date']}"
        f"（{KIND_WORDS[p.kind]}）"
        + (f" 已定：{'同一人' if p.decision == 'same' else '不是重复'}" if p.decision else " 待核实")
        for p in pairs) or "没有疑似重复")
    return OK


def cmd_flag(args) -> int:
    from .core.district import flag
    with _open(args) as store:
        rid = flag(store, args.ledger, args.row, note=args.note or "", status=args.status)
    _out(args, {"review": rid}, f"已记录核实意见（{args.status}）；随下一个发往该镇的数据包下发")
    return OK


def cmd_reviews(args) -> int:
    from .core.district import list_reviews
    with _open(args) as store:
        items = list_reviews(store, ledger_id=args.ledger and store.ledger(args.ledger).ledger.id,
                             open_only=args.open)
    rows = [{"ledger": r["ledger"], "row": r["row_uuid"], "org": r["org"], "status": r["status"],
             "note": r["note"], "reply": r["reply"], "reviewer": r["reviewer"], "updated": r["_updated"]}
            for r in items]
    _out(args, {"reviews": rows}, "\n".join(
        f"{r['ledger']} {r['row']} {r['status']}：{r['note'] or '—'}"
        f"（答复：{r['reply'] or '未答复'}）" for r in rows) or "没有核实意见")
    return OK


def cmd_reply(args) -> int:
    from .core.district import reply
    with _open(args) as store:
        text = reply(store, args.ledger, args.row, args.text)
    _out(args, {"ledger": args.ledger, "row": args.row, "reply": text},
         "已保存答复；随下一个数据包报给区里")
    return OK


def cmd_rules(args) -> int:
    """The district's counting choices: a standard's effective dates, a rotation, a list."""
    from .core.catalog import load_choices, save_choices
    with _open(args) as store:
        choices = load_choices(store)
        changed = False
        for ind_id, *entries in args.standard or []:
            series = []
            for entry in entries:
                month, _, value = entry.partition("=")
                try:
                    series.append((month.strip(), float(value)))
                except ValueError:
                    raise UserError(f"“{entry}”应写成 月份=标准，例如 2024-07=700", INPUT_PROBLEMS) from None
            choices = choices.with_standard(store.catalog, ind_id, series or None)
            changed = True
        for ind_id, *orgs in args.rotation or []:
            codes = [store.resolve_row_org(o) for o in orgs] if orgs else None
            choices = choices.with_rotation(store.catalog, ind_id, codes, store.orgs)
            changed = True
        for ind_id, *names in args.members or []:
            choices = choices.with_members(store.catalog, ind_id, names or None)
            changed = True
        for ind_id, *names in args.items or []:
            choices = choices.with_items(store.catalog, ind_id, names or None)
            changed = True
        for ind_id, *units in args.lead or []:
            choices = choices.with_leads(store.catalog, ind_id, units or None)
            changed = True
        if changed:
            save_choices(store, choices)
        texts = {i.id: store.catalog.counting(i.id, choices) for i in store.catalog.indicators
                 if i.id in set(choices.standards) | set(choices.rotations) | set(choices.members)
                 | set(choices.items)}
        leads = [f"{i.id}：牵头责任单位 {'、'.join(choices.units(i))}（目录原定为{'、'.join(i.units)}）"
                 for i in store.catalog.indicators if i.id in choices.leads]
    _out(args, {**choices.to_json(), "counting": texts},
         "\n".join([*(f"{k}：{v}" for k, v in texts.items()), *leads]) or "未设定，全部按目录默认统计")
    return OK


def cmd_progress(args) -> int:
    if args.explain:
        from .core.district import explain
        with _open(args) as store:
            result = explain(store, args.explain, args.as_of or dt.date.today(), limit=args.limit,
                             scope=args.scope and store.resolve_row_org(args.scope)).to_json()
        ind = result["indicator"]
        lines = [f"{ind['name']}：{ind['counting']}",
                 f"计入 {result['counted_total']} 行，未计入 {result['excluded_total']} 行"]
        lines += [f"  计入 {e['uuid']} {e['org']}：{e['reason_text']}" for e in result["counted"]
                  if e.get("reason_text")]
        lines += [f"  {e['uuid']} {e['org']}：{e['reason_text']}" for e in result["excluded"]]
        _out(args, result, "\n".join(lines))
        return OK
    with _open(args) as store:
        report = compute(store, args.as_of or dt.date.today(), scope=args.scope and
                         store.resolve_row_org(args.scope))
        if args.xlsx:
            from .core.district import progress_workbook
            progress_workbook(store, report, Path(args.xlsx))
    data = report.to_json()
    lines = [f"统计日期 {data['as_of']}，序时进度 {data['expected_rate']}%"]
    for i in data["indicators"]:
        achieved = "—" if i["achieved"] is None else f"{i['achieved']:g}"
        if i["quota"] == UNSPLIT:   # the district's total is not this unit's target
            lines.append(f"{i['name']}: {achieved}{i['unit']}（目标{UNSPLIT}）")
            continue
        target = "—" if i["target"] is None else f"{i['target']:g}"
        rate = "—" if i["rate"] is None else f"{i['rate']}%"
        flag = " 滞后" if i["lagging"] else ""
        lines.append(f"{i['name']}: {achieved}/{target}{i['unit']} {rate}{flag}")
    _out(args, data, "\n".join(lines))
    return OK


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    cli_zh.install()
    p = argparse.ArgumentParser(prog="minsheng", description="民生实事台账 命令行")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="命令")

    def command(name, func, help_text):
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(func=func)
        sp.add_argument("--json", action="store_true", help="以 JSON 输出")
        sp.add_argument("--user", help="用户名（也可用环境变量 MINSHENG_USER；密码用 MINSHENG_PASSWORD 或在终端输入）")
        return sp

    sp = command("init", cmd_init, "新建数据库")
    sp.add_argument("--db", required=True)
    sp.add_argument("--level", required=True, choices=["village", "town", "district"])
    sp.add_argument("--org", required=True, help="单位名称或代码")
    sp.add_argument("--operator", required=True, help="操作员姓名")
    sp.add_argument("--profile", help="从上级单位的配置文件开始（区发给镇、镇发给村）")
    sp.add_argument("--fingerprint", help="上级单位电话读出的指纹（与 --profile 一起；不给则在终端询问）")

    sp = sub.add_parser("villages", help="村（社区）：add 添加 / list 列出")
    vsub = sp.add_subparsers(dest="action", required=True, metavar="操作")
    for action, help_text in (("add", "添加村（社区），代码自动分配"), ("list", "列出村（社区）")):
        vp = vsub.add_parser(action, help=help_text, description=help_text)
        vp.set_defaults(func=cmd_villages)
        vp.add_argument("--json", action="store_true", help="以 JSON 输出")
        vp.add_argument("--user", help="用户名")
        vp.add_argument("--db", required=True)
        if action == "add":
            vp.add_argument("--town", help="所属镇（区级数据库代镇添加时用）")
            vp.add_argument("names", nargs="+", metavar="名称")

    sp = sub.add_parser("users", help="用户（管理员）：list 列出 / add 添加 / passwd 改密码 / disable 停用 / enable 启用")
    usub = sp.add_subparsers(dest="action", required=True, metavar="操作")
    for action, help_text in (("list", "列出用户"), ("add", "添加用户（新密码用 MINSHENG_NEW_PASSWORD 或在终端输入）"),
                              ("passwd", "修改密码（自己的，或管理员重设他人的）"),
                              ("disable", "停用用户"), ("enable", "启用用户")):
        up = usub.add_parser(action, help=help_text, description=help_text)
        up.set_defaults(func=cmd_users)
        up.add_argument("--json", action="store_true", help="以 JSON 输出")
        up.add_argument("--user", help="用户名（执行操作的人）")
        up.add_argument("--db", required=True)
        if action != "list":
            up.add_argument("--name", required=action != "passwd", help="被操作的用户名")
        if action == "add":
            up.add_argument("--role", required=True, choices=["录入员", "审核员", "管理员"])
            up.add_argument("--unit", help="负责的单位（区级用户填所负责的镇）")

    sp = command("backup", cmd_backup, "备份数据库（管理员）：默认存入备份文件夹，--out 另存一份")
    sp.add_argument("--db", required=True)
    sp.add_argument("--out", help="备份文件（不能已存在）")
    sp.add_argument("--list", action="store_true", help="列出备份文件夹中的备份")

    sp = command("restore", cmd_restore, "从备份恢复（管理员）；恢复前先备份当前数据")
    sp.add_argument("--db", required=True)
    sp.add_argument("--from", required=True, help="备份文件（旁边要有它的 .keys 密钥文件）")
    sp.add_argument("--code", help="恢复码（数据库已损坏、又没有管理员密码时）")

    sp = command("recover", cmd_recover, "用恢复码为管理员设置新密码（所有管理员都忘记密码时）；"
                 "新密码用 MINSHENG_NEW_PASSWORD 或在终端输入")
    sp.add_argument("--db", required=True)
    sp.add_argument("--code", required=True, help="恢复码（6 组，每组 4 个字母或数字）")

    sp = command("catalog", cmd_catalog, "列出计划目录：项目、指标、台账")
    sp.add_argument("--db")

    sp = command("records", cmd_records, "列出台账记录（敏感字段默认打码）")
    sp.add_argument("--db", required=True)
    sp.add_argument("--ledger", required=True)
    sp.add_argument("--org", help="只列某村（社区）或镇")
    sp.add_argument("--reveal", action="store_true", help="显示敏感字段（审核员、管理员；记入审计日志）")
    sp.add_argument("--purpose", help="查看完整信息的用途（记入审计日志）")
    sp.add_argument("--deleted", action="store_true", help="列出回收站中的记录")

    sp = command("add", cmd_add, "新增一条记录")
    sp.add_argument("--db", required=True)
    sp.add_argument("--ledger", required=True)
    sp.add_argument("--org", help="村（社区）名称或代码；默认为本单位")
    sp.add_argument("--json-row", required=True, help="字段 id 或中文名称 → 值")
    sp.add_argument("--allow-duplicate", action="store_true", help="判重键相同也保存")

    for name, help_text in (("attach", "给一条记录添加附件（照片、扫描件；按内容检查，过大的照片缩小）"),
                            ("detach", "从一条记录移除一个附件（记入审计日志）")):
        sp = command(name, cmd_attach, help_text)
        sp.add_argument("--db", required=True)
        sp.add_argument("--ledger", required=True)
        sp.add_argument("--row", required=True, help="记录 uuid")
        sp.add_argument("--field", required=True, help="附件字段 id，如 photos_before")
    sp.add_argument("--sha256", required=True, help="附件的校验值（attach 的输出中）")
    sp = sub.choices["attach"]
    sp.add_argument("--keep-original", action="store_true", help="不缩小照片，保留原图")
    sp.add_argument("files", nargs="+", metavar="文件")

    sp = command("template", cmd_template, "生成某个台账的 Excel 填报模板")
    sp.add_argument("--db", required=True)
    sp.add_argument("--ledger", required=True)
    sp.add_argument("--village", help="为某村（社区）生成（预填村名）")
    sp.add_argument("--out", required=True)

    sp = command("export-excel", cmd_export_excel, "导出台账数据（.xlsx 或 .csv；敏感字段默认打码）")
    sp.add_argument("--db", required=True)
    sp.add_argument("--ledger", required=True)
    sp.add_argument("--village", help="只导出某村（社区）")
    sp.add_argument("--out", required=True, help="文件名以 .xlsx 或 .csv 结尾")
    sp.add_argument("--reveal", action="store_true", help="不打码（须用 --purpose 写明用途，记入审计）")
    sp.add_argument("--deidentify", action="store_true",
                    help="去标识化：去掉姓名、证件号、电话、住址，每人换成固定的代码，日期只到月（须写明 --purpose）")
    sp.add_argument("--exact-dates", action="store_true",
                    help="去标识化导出时保留完整日期（默认只到月；记入审计）")
    sp.add_argument("--purpose", help="导出用途（记入审计日志）")

    sp = command("import-excel", cmd_import_excel, "从 Excel/WPS 表格导入台账（每个文件一个事务）")
    sp.add_argument("--db", required=True)
    sp.add_argument("files", nargs="+", metavar="文件")
    sp.add_argument("--ledger", help="台账 id 或名称（默认按表头自动识别）")
    sp.add_argument("--sheet", help="工作表名称（默认自动选择）")
    sp.add_argument("--org", help="这些表来自哪个单位（镇或村的名称或代码；对本次的每个文件都适用）：表中的村名在该单位下查找。"
                                  "默认按文件名、标题行、填报单位识别")
    sp.add_argument("--village", help="表中没有村（社区）列时，记录所属的村（社区）")
    sp.add_argument("--dry-run", action="store_true", help="试导入：只报告，不写入")
    sp.add_argument("--accept-valid", action="store_true", help="有不合格行时仍导入合格的行")
    sp.add_argument("--errors", help="把没有导入的行按台账模板写入这个 Excel 文件（内容与所导入的文件相同），改正后可重新导入")

    sp = command("undo-import", cmd_undo_import, "撤销一次导入（整批）")
    sp.add_argument("--db", required=True)
    sp.add_argument("batch", metavar="批次")

    sp = sub.add_parser("profile", help="配置文件：export 导出本机的 / import 导入别的单位的 / pending 待确认的 / "
                        "confirm 核对指纹后确认 / reject 拒绝待确认的 / rotate 更换本机密钥")
    psub = sp.add_subparsers(dest="action", required=True, metavar="操作")

    def profile_action(name: str, help_text: str) -> argparse.ArgumentParser:
        pp = psub.add_parser(name, help=help_text, description=help_text)
        pp.set_defaults(func=cmd_profile)
        pp.add_argument("--json", action="store_true")
        pp.add_argument("--user", help="用户名")
        pp.add_argument("--db", required=True)
        return pp
    profile_action("export", "导出本机配置文件（单位、级别、公钥）").add_argument(
        "--out", required=True, help="文件或文件夹")
    profile_action("import", "导入上级或下级单位的配置文件（新单位或新密钥待电话核对指纹后确认）").add_argument(
        "files", nargs="+", metavar="文件")
    profile_action("pending", "列出待确认指纹的单位（管理员）")
    pp = profile_action("confirm", "电话核对指纹后确认一个单位（管理员）；随后导入它暂存的数据包")
    pp.add_argument("--org", required=True, help="单位名称或代码")
    pp.add_argument("--fingerprint", required=True, help="对方电话读出的指纹（空格、横线可有可无）")
    profile_action("reject", "拒绝一个待确认的配置文件（管理员）；它暂存的数据包随之丢弃").add_argument(
        "--org", required=True, help="单位名称或代码")
    profile_action("rotate", "更换本机密钥，导出带换钥声明的新配置文件（管理员操作）").add_argument(
        "--out", required=True, help="新配置文件的文件名或文件夹")

    sp = command("export-package", cmd_export_package, "打包本机的新变化，发给上级（或 --to 指定的单位）")
    sp.add_argument("--db", required=True)
    sp.add_argument("--out", required=True, help="存放数据包的文件夹（如 U 盘）")
    sp.add_argument("--to", help="收件单位（默认上级）")
    sp.add_argument("--full", action="store_true", help="全量包（首次报送或恢复）")
    sp.add_argument("--resend", type=_parse_range, metavar="FROM-TO", help="重发以前的第 FROM–TO 号包")
    sp.add_argument("--volume-mb", type=float, metavar="MB",
                    help="每个数据包文件的大小上限（默认 512 MB）；附件超出时分卷")

    sp = command("import-package", cmd_import_package, "导入数据包（每个文件一个事务）")
    sp.add_argument("--db", required=True)
    sp.add_argument("files", nargs="+", metavar="文件")
    sp.add_argument("--dry-run", action="store_true", help="试导入：只报告，不写入")

    sp = command("held", cmd_held, "列出暂存的数据包（发送单位待确认指纹、时间戳超前）；--retry 重试，"
                 "--accept 由管理员确认导入一个时间戳超前的包，--discard 由管理员丢弃一个")
    sp.add_argument("--db", required=True)
    sp.add_argument("--retry", action="store_true", help="导入已经可以导入的暂存数据包")
    sp.add_argument("--accept", metavar="PACKAGE_ID", help="管理员：确认导入这个时间戳超前的数据包（已与对方核实）")
    sp.add_argument("--discard", metavar="PACKAGE_ID", help="管理员：丢弃这个暂存的数据包（记入审计日志）")

    sp = command("repair-clock", cmd_repair_clock, "修复时钟（管理员）：本机曾收到未来时间戳时，把时钟调回今天，"
                 "重写超前的时间戳")
    sp.add_argument("--db", required=True)

    sp = command("conflicts", cmd_conflicts, "列出待处理的冲突（审核员、管理员；敏感字段默认打码）")
    sp.add_argument("--db", required=True)
    sp.add_argument("--reveal", action="store_true", help="显示敏感字段（须用 --purpose 写明用途，记入审计日志）")
    sp.add_argument("--purpose", help="查看完整信息的用途（记入审计日志）")

    sp = command("resolve", cmd_resolve, "处理一个冲突")
    sp.add_argument("--db", required=True)
    sp.add_argument("id", type=int, metavar="编号")
    sp.add_argument("--keep", required=True, choices=["mine", "theirs"])

    sp = command("report", cmd_report, "月度调度报告（xlsx 和/或 A4 PDF）")
    sp.add_argument("--db", required=True)
    sp.add_argument("--month", required=True, help="YYYY-MM")
    sp.add_argument("--pdf")
    sp.add_argument("--xlsx")
    sp.add_argument("--purpose", help="打印用途（记入审计日志）")

    sp = command("board", cmd_board, "各镇数据包报送情况（区级）；可设置报送周期")
    sp.add_argument("--db", required=True)
    sp.add_argument("--as-of", type=_date)
    sp.add_argument("--period", choices=["month", "quarter"], help="报送周期")
    sp.add_argument("--due-day", type=int, help="每期截止日（1–28）")

    sp = command("duplicates", cmd_duplicates, "跨镇、跨年度的重复计数；--decide 记录核实结论")
    sp.add_argument("--db", required=True)
    sp.add_argument("--ledger")
    sp.add_argument("--decide", choices=["same", "different"])
    sp.add_argument("--pair", nargs=2, metavar="UUID")
    sp.add_argument("--keep", help="同一人时保留的记录 uuid")

    sp = command("flag", cmd_flag, "对一条记录写核实意见（区级），随数据包下发到镇")
    sp.add_argument("--db", required=True)
    sp.add_argument("--ledger", required=True)
    sp.add_argument("--row", required=True, help="记录 uuid")
    sp.add_argument("--note")
    sp.add_argument("--status", default="待核实", choices=["待核实", "已核实", "退回修改"])

    sp = command("reviews", cmd_reviews, "列出核实意见和答复（区：发出的；镇：收到的）")
    sp.add_argument("--db", required=True)
    sp.add_argument("--ledger", help="只列某个台账的")
    sp.add_argument("--open", action="store_true", help="只列未核实完毕的")

    sp = command("reply", cmd_reply, "答复区里对一条记录的核实意见（记录 uuid 见 reviews），随下一个数据包报给区里")
    sp.add_argument("--db", required=True)
    sp.add_argument("--ledger", required=True)
    sp.add_argument("--row", required=True, help="记录 uuid")
    sp.add_argument("--text", required=True, help="答复，例如“已改正联系电话”")

    sp = command("progress", cmd_progress, "各指标进度")
    sp.add_argument("--db", required=True)
    sp.add_argument("--as-of", type=_date, help="统计日期 YYYY-MM-DD（默认今天，限于计划年度）")
    sp.add_argument("--scope", help="只统计某镇或村")
    sp.add_argument("--xlsx", help="同时输出民生实事进展情况统计表（A4 打印格式）")
    sp.add_argument("--explain", metavar="指标", help="说明一个指标的计数：计入的行和未计入的行及原因")
    sp.add_argument("--limit", type=int, default=200, help="--explain 时每类最多列出的行数（默认 200）")

    sp = command("rules", cmd_rules,
                 "计数口径（区里设定，随配置文件下发）：标准执行时间、轮流顺序、重点企业名单、清单事项、牵头责任单位")
    sp.add_argument("--db", required=True)
    sp.add_argument("--standard", nargs="+", action="append", metavar="X",
                    help="指标 月份=标准 …，例如 urban_dibao_standard 2024-01=650 2024-07=700（只写指标：恢复目录默认）")
    sp.add_argument("--rotation", nargs="+", action="append", metavar="X",
                    help="指标 1月的单位 2月的单位 …（12 个，或按顺序轮流的几个）；只写指标：恢复目录默认")
    sp.add_argument("--members", nargs="+", action="append", metavar="X",
                    help="指标 企业名称 …；只写指标：恢复目录默认")
    sp.add_argument("--items", nargs="+", action="append", metavar="X",
                    help="指标 事项名称 …：补入固定清单的事项，例如 efficient_one_thing 示例事项（只写指标：恢复目录清单）")
    sp.add_argument("--lead", nargs="+", action="append", metavar="X",
                    help="指标 牵头责任单位 …（须是方案为所属项目列出的责任单位），例如 two_cancer_screening "
                         "区教育卫生健康局；只写指标：恢复目录原定")
    return p


def _start_log(args) -> Path:
    """The command line logs beside the store (``<folder of --db>/logs/minsheng.log``; without
    --db in the user's data folder); the file is made only when something is logged."""
    from .core.logs import setup_logging, user_data_folder
    db = getattr(args, "db", None)
    return setup_logging((Path(db).absolute().parent if db else user_data_folder()) / "logs")


def main(argv: list[str] | None = None) -> int:
    from .core.logs import log_bug, stop_logging
    parser = build_parser()
    args = parser.parse_args(argv)
    log = _start_log(args)
    try:
        return args.func(args)
    except BrokenPipeError:   # the reader went away (`| head`): nothing more to say, and nothing at exit
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except (UserError, OSError) as exc:   # expected failures: one Chinese line and their exit code
        print(f"错误：{describe(exc)}", file=sys.stderr)
        return exit_code(exc)
    except Exception as exc:  # a bug: logged (redacted), one Chinese line, never a raw traceback
        log_bug(exc, args.command)
        where = f"详细情况已记入日志 {log}" if log.is_file() else f"日志无法写入 {log.parent}"
        print(f"错误：程序内部出错（{type(exc).__name__}），操作没有完成。{where}，"
              "请把日志发给区里的技术人员。", file=sys.stderr)
        return exit_code(exc)  # 2: the input could not be used
    except KeyboardInterrupt:   # Ctrl+C: the open transaction was rolled back
        print("已中断：正在处理的那一项没有写入；中断前已完成的文件已经导入（可在导入记录中查看或撤销）。",
              file=sys.stderr)
        return 130
    finally:
        stop_logging()


if __name__ == "__main__":
    sys.exit(main())
