"""``--env-file``: the dotenv dialect we read, and who wins over whom."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pounce._settings.env_file import load_env_file, parse_env


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        pytest.param("A=1", "A", "1", id="plain"),
        pytest.param("  A = 1  ", "A", "1", id="spaces-around"),
        pytest.param("export A=1", "A", "1", id="export"),
        pytest.param("A=", "A", "", id="empty"),
        pytest.param("A=a=b", "A", "a=b", id="equals-in-value"),
        pytest.param("a.b_C9=x", "a.b_C9", "x", id="dotted-key"),
        pytest.param("_A=x", "_A", "x", id="underscore-key"),
        pytest.param("A=val # comment", "A", "val", id="unquoted-comment"),
        pytest.param("A=val\t# comment", "A", "val", id="unquoted-comment-after-tab"),
        pytest.param("A=a#b", "A", "a#b", id="hash-inside-word"),
        pytest.param("A=hello world", "A", "hello world", id="unquoted-spaces"),
        pytest.param("A='a\\nb # c'", "A", "a\\nb # c", id="single-quoted-literal"),
        pytest.param('A="a # b"', "A", "a # b", id="double-quoted-hash"),
        pytest.param('A="l1\\nl2\\tt\\rr"', "A", "l1\nl2\tt\rr", id="double-quoted-escapes"),
        pytest.param('A="say \\"hi\\""', "A", 'say "hi"', id="escaped-quote"),
        pytest.param('A="back\\\\slash"', "A", "back\\slash", id="escaped-backslash"),
        pytest.param('A="\\q"', "A", "\\q", id="unknown-escape-kept"),
        pytest.param("A='", "A", "'", id="lone-quote"),
        pytest.param("A='x\"", "A", "'x\"", id="mismatched-quotes"),
        pytest.param("A=  'padded'  ", "A", "padded", id="quoted-with-outer-spaces"),
        pytest.param("export=1", "export", "1", id="key-named-export"),
    ],
)
def test_parse_line(line: str, key: str, value: str) -> None:
    assert parse_env(line) == {key: value}


def test_comments_blank_lines_and_order() -> None:
    text = "# header\n\nA=1\n   # indented comment\nB=2\r\nA=3\n"
    assert parse_env(text) == {"A": "3", "B": "2"}
    assert list(parse_env(text)) == ["A", "B"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\nNOEQUALS\n", "line 2: expected KEY=value, got 'NOEQUALS'"),
        ("1A=2", "line 1: expected KEY=value, got '1A=2'"),
        ("A-B=2", "line 1: expected KEY=value"),
        ("=value", "line 1: expected KEY=value"),
        ("export A", "line 1: expected KEY=value"),
    ],
)
def test_malformed_lines(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message):
        parse_env(text)


def test_load_env_file_does_not_override_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Register both names with monkeypatch so whatever the loader sets is undone.
    monkeypatch.setenv("POUNCE_TEST_SET", "from-environment")
    monkeypatch.setenv("POUNCE_TEST_UNSET", "x")
    monkeypatch.delenv("POUNCE_TEST_UNSET")
    env = tmp_path / ".env"
    env.write_text("POUNCE_TEST_SET=from-file\nPOUNCE_TEST_UNSET=from-file\n")
    values = load_env_file(str(env))
    assert values == {"POUNCE_TEST_SET": "from-file", "POUNCE_TEST_UNSET": "from-file"}
    assert os.environ["POUNCE_TEST_SET"] == "from-environment"
    assert os.environ["POUNCE_TEST_UNSET"] == "from-file"


def test_load_env_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    with pytest.raises(ValueError, match=r"^cannot read env file .*nope\.env"):
        load_env_file(str(missing))


def test_load_env_file_is_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POUNCE_TEST_UTF8", "x")
    monkeypatch.delenv("POUNCE_TEST_UTF8")
    env = tmp_path / ".env"
    env.write_bytes("POUNCE_TEST_UTF8=caf\u00e9\n".encode())
    load_env_file(str(env))
    assert os.environ["POUNCE_TEST_UTF8"] == "caf\u00e9"
