"""Log files: rotated, UTF-8, beside the store for the CLI, and never a sensitive value in them."""
import logging

import pytest

from desktop_app import cli
from desktop_app.core.logs import (
    LOG_NAME,
    Redactor,
    current_log,
    format_exception,
    hide_values,
    log_bug,
    redact,
    setup_logging,
    stop_logging,
)

ID18 = "43090219710916154X"
PHONE = "13812345678"
SENSITIVE = [
    ID18, "43090219710916154x", "430902197109161542", "430902710916154",   # 18 / 18 / 15 digits
    "４３０９０２１９７１０９１６１５４Ｘ",                                   # typed full-width
    "430902 19710916 154X", "13812345678", "138-1234-5678", "138 1234 5678",
    "+8613812345678", "+86 138 1234 5678", "0737-6212345", "07376212345", "(0737)6212345",
    "0737-62123456-801", "6212345", "62123456", "6222021234567890123",       # local line, bank card
]


@pytest.fixture(autouse=True)
def no_log_left():
    yield
    stop_logging()


@pytest.mark.parametrize("value", SENSITIVE)
def test_every_kind_of_number_is_redacted_wherever_it_stands(value):
    for text in (value, f"号码{value}。", f"id={value},", f"'{value}'", f"({value})"):
        out = redact(text)
        assert value not in out and "[" in out, out
        digits = "".join(c for c in value if c.isdigit())
        assert digits[-6:] not in "".join(c for c in out if c.isdigit())


@pytest.mark.parametrize("text", [
    "第 12 行", "2024-06-30 12:00:00,123", "line 1234 in apply", "共 146 人，完成 93.5%",
    "版本 0.1.0", "0x7f3a", "row_7", "河坝镇 430971121", "示例村一 430971121001",
    "1718000000000 ms",
])
def test_ordinary_short_numbers_stay(text):
    assert redact(text) == text


def test_exception_messages_lose_chinese_text_too():
    assert hide_values("invalid literal for int() with base 10: '张三'") == \
        "invalid literal for int() with base 10: '[文字]'"
    assert hide_values("宫颈癌 阳性 13812345678") == "[文字] [电话]"


NAME = "张三"


def _raise_chained(name=NAME, id_number=ID18):
    try:
        int(name)
    except ValueError as exc:
        raise KeyError(id_number) from exc


def test_a_traceback_keeps_its_frames_and_drops_the_values():
    with pytest.raises(KeyError) as info:
        _raise_chained()
    text = format_exception(info.value)
    assert ID18 not in text and "张三" not in text and "430902" not in text
    assert 'File "tests/test_logs.py"' in text and __file__ not in text   # no home folder
    assert "in _raise_chained" in text and "int(name)" in text   # the code, not the values
    assert "The above exception was the direct cause" in text
    assert text.index("ValueError") < text.index("KeyError: '[身份证号]'")
    bare = format_exception(info.value, messages=False)
    assert bare.splitlines()[-1] == "KeyError" and "[身份证号]" not in bare.splitlines()[-1]


def test_source_lines_are_redacted_as_well():
    def boom():
        raise ValueError("x")  # 13812345678
    with pytest.raises(ValueError) as info:
        boom()
    assert "13812345678" not in format_exception(info.value)


def test_the_filter_redacts_message_args_and_traceback(tmp_path):
    path = setup_logging(tmp_path / "logs")
    log = logging.getLogger("desktop_app.test")
    log.warning("号码 %s，对象 %r", 13812345678, {"身份证号": ID18})
    log.info("f-string too: " + "0737-6212345")
    try:
        {}[ID18]
    except KeyError:
        log.exception("查 %s 失败", "430902197109161542")
    text = path.read_text(encoding="utf-8")
    for value in (ID18, "13812345678", "0737-6212345", "430902197109161542", "6212345"):
        assert value not in text
    assert "号码 [电话]" in text and "KeyError: '[身份证号]'" in text
    assert "Traceback (most recent call last):" in text


def test_a_record_is_redacted_in_place_for_the_handlers_after_ours():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "%s", (ID18,), None)
    assert Redactor().filter(record) and record.getMessage() == "[身份证号]" and record.args is None


def test_nothing_is_made_until_something_is_logged_and_then_files_rotate(tmp_path):
    folder = tmp_path / "a" / "logs"
    path = setup_logging(folder, max_bytes=2000, backups=2)
    assert path == folder / LOG_NAME == current_log() and not folder.exists()
    log = logging.getLogger("desktop_app.test")
    for i in range(200):
        log.warning("第 %d 条：中文也能写", i)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [LOG_NAME, f"{LOG_NAME}.1", f"{LOG_NAME}.2"]   # never more than asked
    assert all(p.stat().st_size <= 2200 for p in folder.iterdir())
    assert "中文也能写" in path.read_text(encoding="utf-8")


def test_setup_again_moves_the_log_and_stop_closes_it(tmp_path):
    level = logging.getLogger().level
    first = setup_logging(tmp_path / "one")
    second = setup_logging(tmp_path / "two")
    logging.getLogger("desktop_app").error("到第二个")
    assert not first.exists() and "到第二个" in second.read_text(encoding="utf-8")
    stop_logging()
    assert current_log() is None and logging.getLogger().level == level
    logging.getLogger("desktop_app").error("不再写")
    assert "不再写" not in second.read_text(encoding="utf-8")


def test_a_bug_is_logged_once(tmp_path):
    path = setup_logging(tmp_path)
    error = ValueError("电话 13812345678")
    assert log_bug(error, "测试") is True and log_bug(error) is False
    text = path.read_text(encoding="utf-8")
    assert text.count("程序内部出错") == 1 and "13812345678" not in text and "（测试）" in text


# ---------------------------------------------------------------- the command line

def _broken_progress(*_a, **_k):
    raise ValueError(f"{NAME} {ID18} 电话 {PHONE}")


def test_cli_bug_is_one_chinese_line_naming_the_log_and_exit_2(tmp_path, capsys, monkeypatch):
    db = tmp_path / "town.sqlite3"
    assert cli.main(["init", "--db", str(db), "--level", "town", "--org", "河坝镇",
                     "--operator", "示例录入员"]) == 0
    capsys.readouterr()
    assert not (tmp_path / "logs").exists()   # a good run leaves no log behind
    monkeypatch.setenv("MINSHENG_USER", "示例录入员")
    monkeypatch.setattr(cli, "compute", _broken_progress)
    code = cli.main(["progress", "--db", str(db), "--as-of", "2024-06-30"])
    out, err = capsys.readouterr()
    log = tmp_path / "logs" / LOG_NAME
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("错误：程序内部出错（ValueError）")
    assert str(log) in err and "Traceback" not in err
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last):" in text and "_broken_progress" in text
    assert 'File "desktop_app/cli.py"' in text and str(cli.__file__) not in text
    for value in (ID18, "13812345678", "张三"):
        assert value not in err + out + text
    assert current_log() is None   # main() closed its log


def test_cli_expected_errors_are_not_logged(tmp_path, capsys):
    code = cli.main(["records", "--db", str(tmp_path / "missing.sqlite3"), "--ledger", "two_cancer"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("错误：") and not (tmp_path / "logs").exists()
