"""Merge the student's Jupyter configuration (binder/jupyter_config/) into a config directory.

    python binder/install_jupyter_config.py TARGET     # e.g. ${NB_PYTHON_PREFIX}/etc/jupyter

Each JSON file is merged key by key into the file of the same name under TARGET, so
settings that other packages already wrote there stay; ours win where both set a key.
Binder's postBuild and the browser tests both call this, so they run the same configuration.
"""

import json
import sys
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "jupyter_config"


def merge(into, new):
    """Recursive dict update, as Jupyter merges its own JSON config files."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def install(target, config=CONFIG):
    """Merge every ``*.json`` under ``config`` into ``target``; return the files written."""
    target = Path(target)
    written = []
    for source in sorted(Path(config).rglob("*.json")):
        destination = target / source.relative_to(config)
        current = json.loads(destination.read_text()) if destination.is_file() else {}
        merged = merge(current, json.loads(source.read_text()))
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(json.dumps(merged, indent=2) + "\n")
        written.append(destination)
    return written


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for path in install(argv[0]):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
