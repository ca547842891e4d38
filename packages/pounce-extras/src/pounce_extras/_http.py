"""Small HTTP helpers the layers share: header lookup and list parsing."""

from __future__ import annotations

from collections.abc import Iterable

from pounce import Scope

__all__ = [
    "add_vary",
    "app_path",
    "get_header",
    "get_headers",
    "parse_qlist",
    "preferred",
    "set_header",
    "without_headers",
]

Headers = Iterable[tuple[bytes, bytes]]


def app_path(scope: Scope) -> str:
    """The request path below the app's ``root_path`` (the path an app routes on)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def get_header(headers: Headers, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lowercase), or ``None``."""
    for key, value in headers:
        if key == name:
            return value
    return None


def get_headers(headers: Headers, name: bytes) -> list[bytes]:
    """Every value of header ``name`` (lowercase), in order."""
    return [value for key, value in headers if key == name]


def set_header(headers: list[tuple[bytes, bytes]], name: bytes, value: bytes) -> None:
    """Replace every ``name`` field (compared case-insensitively) by one."""
    headers[:] = [(k, v) for k, v in headers if k.lower() != name]
    headers.append((name, value))


def without_headers(
    headers: Iterable[tuple[bytes, bytes]], *names: bytes
) -> list[tuple[bytes, bytes]]:
    """``headers`` minus the fields named (compared case-insensitively)."""
    return [(k, v) for k, v in headers if k.lower() not in names]


def add_vary(headers: list[tuple[bytes, bytes]], token: bytes) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``token`` in their Vary field (one field, merged)."""
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            tokens = {t.strip().lower() for t in value.split(b",")}
            if token.lower() not in tokens and b"*" not in tokens:
                headers[index] = (name, value + b", " + token)
            return headers
    headers.append((b"vary", token))
    return headers


def parse_qlist(values: Iterable[bytes]) -> dict[str, float]:
    """A list header with quality values (Accept, Accept-Encoding) as {item: q}.

    Items are lowercased; an item listed twice keeps its first q. A malformed
    q counts as 0: better to refuse an item than to favour it by mistake.
    """
    result: dict[str, float] = {}
    for value in values:
        for part in value.decode("latin-1").split(","):
            item, *params = part.split(";")
            item = item.strip().lower()
            if not item:
                continue
            q = 1.0
            for param in params:
                key, _, raw = param.strip().partition("=")
                if key.strip().lower() == "q":
                    try:
                        q = float(raw.strip())
                    except ValueError:
                        q = 0.0
                    if not 0.0 <= q <= 1.0:
                        q = 0.0
            result.setdefault(item, q)
    return result


def preferred(offers: Iterable[str], accepted: dict[str, float], *, wildcard: str) -> str | None:
    """The offer with the highest q in ``accepted`` (ties: the earlier offer).

    An offer not listed takes the q of ``wildcard`` (``*`` for codings,
    ``*/*`` for media types), if that is listed; a q of 0 refuses it.
    """
    best: str | None = None
    best_q = 0.0
    default = accepted.get(wildcard, 0.0)
    for offer in offers:
        q = accepted.get(offer, default)
        if q > best_q:
            best, best_q = offer, q
    return best
