"""``fastware users``: create, list, delete users and change their role, from a shell.

The store is a SQLite database, or a JSON file when the path ends in ``.json``, named by
``--store`` or the ``FASTWARE_USERS`` environment variable. Passwords are never taken from
the command line (they would land in shell history and ``ps``): ``create`` prompts twice on
a terminal, or reads one line from stdin with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

from .exceptions import AuthError
from .passwords import DEFAULT_ROUNDS
from .users import UserRecord, UserStore

__all__ = ("UsersCommand", "command", "open_store")

ENVIRONMENT_VARIABLE = "FASTWARE_USERS"


class UsersCommandError(AuthError):
    """A user error in ``fastware users`` (printed as one line)."""


def open_store(path: str, *, rounds: int = DEFAULT_ROUNDS) -> UserStore:
    """The store at ``path``: a :class:`JSONFileUserStore` for ``*.json``, else SQLite."""
    if path.lower().endswith(".json"):
        from .users import JSONFileUserStore

        return JSONFileUserStore(path, rounds=rounds)
    from .sqlite_store import SQLiteUserStore

    return SQLiteUserStore(path, rounds=rounds)


def _public(record: UserRecord) -> dict[str, Any]:
    return {
        "username": record["username"],
        "role": record["role"],
        "created_at": record["created_at"],
    }


def _say(text: str) -> None:
    print(text, flush=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        if not password:
            raise UsersCommandError("no password on stdin")
        return password
    if not sys.stdin.isatty():
        raise UsersCommandError(
            "stdin is not a terminal: pass --password-stdin and pipe the password in"
        )
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Password (again): ")
    if first != second:
        raise UsersCommandError("the passwords do not match")
    return first


class UsersCommand:
    """``fastware users``."""

    help = "Manage the users of a user store: create, list, delete, set-role."

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Declare the sub-commands and their arguments."""
        parser.add_argument(
            "--store",
            metavar="PATH",
            default=os.environ.get(ENVIRONMENT_VARIABLE),
            help=f"the user store: a SQLite file, or *.json (default: ${ENVIRONMENT_VARIABLE})",
        )
        parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
        actions = parser.add_subparsers(dest="action", metavar="ACTION")
        create = actions.add_parser("create", help="create a user (password prompted)")
        create.add_argument("username")
        create.add_argument("--role", default="user", help="the role (default: user)")
        create.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
        create.add_argument(
            "--rounds", type=int, default=DEFAULT_ROUNDS, help="bcrypt cost (default: 12)"
        )
        actions.add_parser("list", help="list the users")
        delete = actions.add_parser("delete", help="delete a user")
        delete.add_argument("username")
        set_role = actions.add_parser("set-role", help="change a user's role")
        set_role.add_argument("username")
        set_role.add_argument("role")

    def run(self, args: argparse.Namespace) -> int:
        """Run the sub-command; errors are raised and printed as one line."""
        if not args.action:
            raise UsersCommandError("name an action: create, list, delete or set-role")
        if not args.store:
            raise UsersCommandError(
                f"no user store: pass --store PATH or set {ENVIRONMENT_VARIABLE}"
            )
        store = open_store(args.store, rounds=getattr(args, "rounds", DEFAULT_ROUNDS))
        try:
            return self._run(store, args)
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()

    def _run(self, store: UserStore, args: argparse.Namespace) -> int:
        if args.action == "create":
            password = _read_password(args.password_stdin)
            record = store.create_user(args.username, password, args.role)
            self._report(
                args, _public(record), f"created user {record['username']!r} ({record['role']})"
            )
        elif args.action == "list":
            users = [_public(record) for record in store.list_users()]
            if args.json:
                _say(json.dumps(users))
            elif not users:
                _say("no users")
            else:
                width = max(8, *(len(user["username"]) for user in users))
                role_width = max(4, *(len(user["role"]) for user in users))
                _say(f"{'USERNAME'.ljust(width)}  {'ROLE'.ljust(role_width)}  CREATED")
                for user in users:
                    _say(
                        f"{user['username'].ljust(width)}  {user['role'].ljust(role_width)}  "
                        f"{user['created_at']}"
                    )
        elif args.action == "delete":
            store.delete_user(args.username)
            self._report(args, {"deleted": args.username}, f"deleted user {args.username!r}")
        else:
            record = store.set_role(args.username, args.role)
            self._report(
                args, _public(record), f"user {record['username']!r} now has role {args.role!r}"
            )
        return 0

    @staticmethod
    def _report(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
        _say(json.dumps(data) if args.json else text)


command = UsersCommand()
"""The ``fastware.cli`` entry point."""
