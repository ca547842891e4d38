"""``pounce info``: whether each optional extra is installed, followed through extras."""

from __future__ import annotations

import pytest

from pounce._serve.preflight import PackageIndex, _extras, extra_requirements

# pounce-core[http3] is pounce-protocols[http3], which is aioquic.
REQUIRES = {
    "pounce-core": [
        "pounce-protocols[http2]==0.1.0",
        "pounce-protocols[http3]==0.1.0; extra == 'http3'",
        "uvloop>=0.23; sys_platform != 'win32' and extra == 'uvloop'",
        "pounce-protocols[websocket]==0.1.0; extra == 'websocket'",
        "pounce-core[uvloop,websocket]; extra == 'standard'",
    ],
    "pounce-protocols": [
        "h11<0.17,>=0.16",
        "h2<5,>=4.1; extra == 'http2'",
        "aioquic<2,>=1.2; extra == 'http3'",
        "wsproto<2,>=1.2; extra == 'websocket'",
    ],
}
EXTRAS = {
    "pounce-core": ["http3", "uvloop", "websocket", "standard"],
    "pounce-protocols": ["http2", "http3", "websocket"],
}


def index(installed: set[str]) -> PackageIndex:
    return PackageIndex(
        version=lambda name: "1.0" if name in installed else None,
        requires=lambda name: REQUIRES.get(name) if name in installed else None,
        extras=lambda name: EXTRAS.get(name, []),
    )


EVERYTHING_BUT_AIOQUIC = {"pounce-core", "pounce-protocols", "h11", "h2", "uvloop", "wsproto"}


def test_an_extra_of_an_extra_is_followed_to_what_is_missing() -> None:
    packages = index(EVERYTHING_BUT_AIOQUIC)
    assert extra_requirements("pounce-core", "http3", packages) == ["aioquic"]
    assert _extras("pounce-core", packages)["http3"] == {
        "requires": ["aioquic"],
        "installed": False,
    }


def test_installed_when_the_leaves_are() -> None:
    packages = index({*EVERYTHING_BUT_AIOQUIC, "aioquic"})
    assert _extras("pounce-core", packages)["http3"]["installed"] is True


def test_an_extra_naming_the_distribution_itself_is_followed_once() -> None:
    packages = index(EVERYTHING_BUT_AIOQUIC)
    assert extra_requirements("pounce-core", "standard", packages) == ["uvloop", "wsproto"]
    assert _extras("pounce-core", packages)["standard"]["installed"] is True


def test_a_missing_intermediate_distribution_is_named() -> None:
    packages = index({"pounce-core"})
    assert extra_requirements("pounce-core", "http3", packages) == ["pounce-protocols"]
    assert _extras("pounce-core", packages)["websocket"]["installed"] is False


@pytest.mark.parametrize("extra", ["http3", "websocket"])
def test_the_real_metadata_agrees_with_what_imports(extra: str) -> None:
    import importlib.util

    module = {"http3": "aioquic", "websocket": "wsproto"}[extra]
    entry = _extras("pounce-protocols")[extra]
    assert entry["installed"] == (importlib.util.find_spec(module) is not None)
