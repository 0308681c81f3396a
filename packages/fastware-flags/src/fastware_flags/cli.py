"""``fastware flags``: list, set and unset feature flags (entry point ``fastware.cli: flags``).

The store comes from ``--store`` (a path or ``redis://...``), else from the app's
``FeatureFlags`` named by ``--flags MODULE:ATTR`` (which also supplies the defaults), else
from ``FASTWARE_FLAGS_STORE``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any

from fastware_core import FastwareError

from .flags import ENV_STORE, FeatureFlags
from .stores import coerce_flag

__all__ = ("FlagsCommand", "command")


def _say(text: str) -> None:
    print(text, file=sys.stdout, flush=True)


def _load_flags(target: str, app_dir: str | None) -> FeatureFlags:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--flags needs MODULE:ATTRIBUTE (like myapp:flags), not {target!r}")
    directory = os.path.abspath(app_dir or os.getcwd())
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r} (from {directory}): {exc}") from None
    found: Any = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ValueError(f"{module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(found, FeatureFlags):
        raise ValueError(f"{target} is a {type(found).__name__}, not a FeatureFlags")
    return found


def _open(args: argparse.Namespace) -> FeatureFlags:
    if args.store is not None:
        defaults = _load_flags(args.flags, args.app_dir).defaults if args.flags else {}
        return FeatureFlags(defaults, store=args.store, refresh_interval=0)
    if args.flags is not None:
        return _load_flags(args.flags, args.app_dir)
    if os.environ.get(ENV_STORE):
        return FeatureFlags(refresh_interval=0)
    raise FastwareError(
        f"no flag store: pass --store PATH|URL or --flags MODULE:ATTR, or set {ENV_STORE}"
    )


def _on_off(value: bool | None) -> str:
    return "-" if value is None else ("on" if value else "off")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


class FlagsCommand:
    """``fastware flags list|set|unset``."""

    help = "List, set and unset feature flags (--json for machines)."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the sub-commands and their options."""
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--store", metavar="PATH|URL", help="the overrides file or redis://")
        common.add_argument(
            "--flags", metavar="MODULE:ATTR", help="the app's FeatureFlags (for its defaults)"
        )
        common.add_argument("--app-dir", metavar="DIR", help="import --flags from DIR")
        common.add_argument("--json", action="store_true", help="print one JSON object")
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser(
            "list", parents=[common], help="every flag: effective value and where it comes from"
        )
        setter = actions.add_parser("set", parents=[common], help="override a flag")
        setter.add_argument("name", help="the flag")
        setter.add_argument("value", help="on/off, true/false, yes/no or 1/0")
        unsetter = actions.add_parser(
            "unset", parents=[common], help="remove an override (the default applies)"
        )
        unsetter.add_argument("name", help="the flag")

    def run(self, args: argparse.Namespace) -> int:
        """Run the action; 0 on success, 1 when the store could not be read or written."""
        flags = _open(args)
        try:
            if args.action == "set":
                try:
                    value = coerce_flag(args.value, f"the value of {args.name!r}")
                except TypeError as exc:
                    raise ValueError(str(exc)) from None
                flags.set_override(args.name, value)
                return self._report(flags, args, f"{args.name}: override {_on_off(value)}")
            if args.action == "unset":
                flags.remove_override(args.name)
                return self._report(flags, args, f"{args.name}: override removed")
            return self._list(flags, args)
        finally:
            flags.close()

    def _report(self, flags: FeatureFlags, args: argparse.Namespace, line: str) -> int:
        entry = next((f for f in flags.describe() if f["name"] == args.name), None)
        if args.json:
            _say(json.dumps({"store": flags.status()["store"], "flag": entry}))
        else:
            effective = "off" if entry is None else _on_off(entry["enabled"])
            _say(f"{line}; now {effective} (store: {flags.status()['store']})")
        return 0

    def _list(self, flags: FeatureFlags, args: argparse.Namespace) -> int:
        status = flags.status()
        described = flags.describe()
        if args.json:
            _say(json.dumps({**status, "flags": described}))
        else:
            rows = [["NAME", "VALUE", "SOURCE", "DEFAULT", "OVERRIDE"]]
            rows += [
                [
                    f["name"],
                    _on_off(f["enabled"]),
                    f["source"],
                    _on_off(f["default"]),
                    _on_off(f["override"]),
                ]
                for f in described
            ]
            _say(_table(rows) if described else "no flags")
            _say(f"store: {status['store']}")
        if not status["ok"]:
            print(f"fastware flags: error: {status['error']}", file=sys.stderr, flush=True)
            return 1
        return 0


command = FlagsCommand()
"""The ``flags`` command (entry point ``fastware.cli: flags``)."""
