"""No ``b"x" in data`` in the packages that carry requests.

On CPython, ``b"#" in target`` first tries the one-byte needle as an integer
and raises and clears a ``TypeError`` before it searches: about 230 ns a
test on 3.14, ten times the ``memchr`` that ``0x23 in target`` is. The
request path made three such tests per request (4 % of its instructions on
3.14t) before they were written as integers. This test keeps them out of
pounce-protocols and pounce-core: a one-byte ``bytes`` literal on the left
of ``in`` or ``not in``. (Against a list or a set such a test is as cheap as
any other, but none is needed there, and the rule stays simple.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    [
        *(ROOT / "packages/pounce-protocols/src").rglob("*.py"),
        *(ROOT / "packages/pounce-core/src").rglob("*.py"),
    ]
)


def one_byte_membership_tests(source: str) -> list[int]:
    """Line numbers of ``b"x" in ...`` / ``b"x" not in ...`` in ``source``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if (
                isinstance(op, (ast.In, ast.NotIn))
                and isinstance(left, ast.Constant)
                and isinstance(left.value, bytes)
                and len(left.value) == 1
            ):
                lines.append(node.lineno)
            left = right
    return lines


def test_the_scan_finds_what_it_is_for() -> None:
    source = 'a = b"#" in t\nb = 0x23 in t\nc = b"ab" in t\nd = x < b"#" not in t\n'
    assert one_byte_membership_tests(source) == [1, 4]


def test_the_packages_are_scanned() -> None:
    names = {path.name for path in SOURCES}
    assert {"_http1_fast.py", "_http2_fast.py", "http_scope.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_one_byte_membership_test(path: Path) -> None:
    found = one_byte_membership_tests(path.read_text(encoding="utf-8"))
    assert not found, (
        f"{path.relative_to(ROOT)} lines {found}: write the byte as an integer "
        '(0x23 in data, not b"#" in data)'
    )
