"""The ``h2cm`` command line: a thin shell over library functions.

Every verb lives in a module of this package (``h2cm.cli.<name>``) that exposes
``register(subparsers)``: it adds the verb's parser (shared options from :mod:`.options`) and sets
``func`` to a thin handler that calls one library function and returns an exit code. Add a verb by
adding its module to :data:`VERBS`. Bad input (a ValueError or missing file anywhere below) is one
line on stderr and exit 2, never a traceback (``H2CM_DEBUG=1`` shows it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .. import __version__

# verb modules, in the order they appear in ``h2cm --help``
VERBS: tuple[str, ...] = (
    "h2cm.cli.simulate",
    "h2cm.cli.bench",
    "h2cm.cli.synth",
    "h2cm.cli.data",
    "h2cm.cli.import_cf",
    "h2cm.cli.import_towers",
    "h2cm.cli.reference",
    "h2cm.cli.train",
    "h2cm.cli.cv",
    "h2cm.cli.predict",
    "h2cm.cli.evaluate",
    "h2cm.cli.probe",
    "h2cm.cli.report",
    "h2cm.cli.study",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="h2cm",
        description="H2CM: hybrid hydrological-carbon cycle model. Run 'h2cm VERB --help' for a verb's options.",
    )
    parser.add_argument("--version", action="version", version=f"h2cm {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name in VERBS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # KEY=VALUE overrides after options (argparse stops filling a positional list at the first option)
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = [*(args.overrides or []), *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        # bad input (config, cube, run directory, file): one clear line, not a traceback;
        # every error class of h2cm (ConfigError, CubeError, RunDirError, ...) is one of these
        if os.environ.get("H2CM_DEBUG"):
            raise
        verb = getattr(args, "verb", None) or (argv or sys.argv[1:] or ["h2cm"])[0]
        print(f"h2cm {verb}: error: {err}", file=sys.stderr)
        print("(set H2CM_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
