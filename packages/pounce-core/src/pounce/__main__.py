"""``python -m pounce``: the same as the ``pounce`` command.

The command line lives in the ``pounce-cli`` package, a layer above this one,
so it is found through its installed entry point rather than imported by name.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def main() -> None:
    for entry in entry_points(group="console_scripts", name="pounce"):
        sys.argv[0] = "pounce"
        entry.load()()
        return
    sys.stderr.write(
        "The pounce command line is not installed: pip install pounce-cli\n"
        "(or call pounce.run() from Python).\n"
    )
    sys.exit(1)


if __name__ == "__main__":
    main()
