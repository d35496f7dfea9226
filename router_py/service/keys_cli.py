"""`llm-router keys`: make a caller's API key and the keys-file entry that admits it.

The key is printed once and stored nowhere: the keys file holds its SHA-256 only. `keys hash`
reads a key from stdin, never from the command line, where shell history and `ps` would keep it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from router_py.service.auth import ApiKeyEntry, ApiKeysError, digest, new_key, parse_keys


def add_keys_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="API keys for callers: make one, hash one, check a keys file")
    verbs = keys.add_subparsers(dest="verb", required=True)

    new = verbs.add_parser("new", help="print a fresh random key (once) and its keys-file entry")
    new.add_argument("--tenant", required=True)
    new.add_argument("--id", help="a name for the key in logs, e.g. acme-ci")
    new.set_defaults(handler=_new)

    hashed = verbs.add_parser("hash", help="read a key on stdin; print its sha256 (or its entry, with --tenant)")
    hashed.add_argument("--tenant")
    hashed.add_argument("--id")
    hashed.set_defaults(handler=_hash)

    check = verbs.add_parser("check", help="validate a keys file; print how many keys and tenants it holds")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=_check)


def _entry_yaml(entry: ApiKeyEntry) -> str:
    item = entry.model_dump(exclude_none=True)
    return yaml.safe_dump([item], sort_keys=False, default_flow_style=False).rstrip()


def _new(args: argparse.Namespace) -> int:
    key = new_key()
    entry = ApiKeyEntry(tenant=args.tenant, sha256=digest(key), id=args.id)
    print(f"# the key (shown once; the router stores only its hash):\n{key}")
    print(f"# add under `keys:` in the keys file:\n{_entry_yaml(entry)}")
    return 0


def _hash(args: argparse.Namespace) -> int:
    key = sys.stdin.readline().strip()
    if not key:
        raise ValueError("no key on stdin")
    if args.tenant is None:
        print(digest(key))
    else:
        print(_entry_yaml(ApiKeyEntry(tenant=args.tenant, sha256=digest(key), id=args.id)))
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        parsed = parse_keys(args.file.read_bytes())
    except ApiKeysError as e:
        raise ApiKeysError(f"{args.file}: {e}") from None
    print(f"{args.file}: {len(parsed.keys)} keys for {len({k.tenant for k in parsed.keys})} tenants")
    return 0
