# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""glance_manager's subcommand table: options before or after the command, no command is sync."""

from __future__ import annotations

import pytest

from glancing.cli.manager import COMMANDS, build_parser, main


@pytest.fixture(scope="module")
def parser():
    return build_parser([])


@pytest.mark.parametrize("argv", [["--json", "--keep", "3", "status"], ["status", "--json", "--keep", "3"],
                                  ["--json", "status", "--keep", "3"]])
def test_shared_options_before_or_after_the_command(parser, argv):
    args = parser.parse_args(argv)
    assert (args.command, args.json, args.keep) == ("status", True, 3)


def test_no_command_is_sync_and_keeps_the_old_options(parser):
    args = parser.parse_args(["-l", "a.txt", "-l", "b.txt", "--keep", "2", "--dry-run"])
    assert (args.command, args.list, args.keep, args.dry_run) == ("sync", ["a.txt", "b.txt"], 2, True)
    assert parser.parse_args(["sync", "-l", "a.txt"]).list == ["a.txt"]


def test_rollback_takes_its_appliance(parser):
    args = parser.parse_args(["--dry-run", "rollback", "CentOS 7"])
    assert (args.command, args.appliance, args.dry_run) == ("rollback", "CentOS 7", True)


def test_every_command_is_in_the_table(parser):
    for name in ("sync", "status", "rollback"):
        assert name in COMMANDS
        assert parser.parse_args([name]).command == name


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "frobnicate" in capsys.readouterr().err
