# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""List files: IDs in file order, comments, blanks, duplicates and malformed lines as warnings."""

from __future__ import annotations

import pytest

from glancing.errors import UsageError
from glancing.manager.lists import is_marketplace_id, parse_lists, read_lists
from manager_helpers import mpid

A, B, C = mpid("a"), mpid("b"), mpid("c")


def test_real_identifiers_are_accepted():
    for real in ("LHfKVPoHcv4oMirHU0KuOQc-TvI", "BtSKdXa2SvHlSVTvgFgivIYDq--", "Ga0K1skI0vqEUChnLTNQDjr28x6"):
        assert is_marketplace_id(real)
    assert not is_marketplace_id("ZHfKVPoHcv4oMirHU0KuOQc-TvI")  # top digit > 15: not a SHA-1
    assert not is_marketplace_id("LHfKVPoHcv4oMirHU0KuOQc+TvI")  # '+' is not base64url


def test_order_comments_and_blank_lines():
    text = f"# site list\n\n{B}\n   \n{A}   # trailing comment\n\t{C}\n"
    parsed = parse_lists([("one.txt", text)])
    assert parsed.ids == [B, A, C]
    assert parsed.warnings == ()
    assert [e.where for e in parsed.entries] == ["one.txt:3", "one.txt:5", "one.txt:6"]


def test_duplicates_within_and_across_files_warn_with_file_and_line():
    parsed = parse_lists([("one.txt", f"{A}\n{B}\n{A}\n"), ("two.txt", f"{C}\n{B}\n")])
    assert parsed.ids == [A, B, C]
    assert [str(w) for w in parsed.warnings] == [
        f"one.txt:3: duplicate ID {A} (first at one.txt:1)",
        f"two.txt:2: duplicate ID {B} (first at one.txt:2)",
    ]


def test_malformed_lines_warn_and_are_skipped():
    text = f"short\n{A} {B}\nhttp://example.org/{A}\n{A}\n"
    parsed = parse_lists([("l.txt", text)])
    assert parsed.ids == [A]
    got = [(w.line, w.message.split(":")[0]) for w in parsed.warnings]
    assert [line for line, _ in got] == [1, 2, 3]
    assert "27 characters, not 5" in parsed.warnings[0].message
    assert "one ID per line" in parsed.warnings[1].message


def test_read_lists_checks_every_file_before_reading(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text(f"\ufeff{A}\n", encoding="utf-8")  # a BOM from a Windows editor is tolerated
    assert read_lists([str(good)]).ids == [A]
    with pytest.raises(UsageError, match="list file not found: .*missing.txt"):
        read_lists([str(good), str(tmp_path / "missing.txt")])
    with pytest.raises(UsageError, match="not found"):
        read_lists([str(tmp_path)])  # a directory is not a list file
    with pytest.raises(UsageError, match="no image list"):
        read_lists([])


def test_non_utf8_list_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_lists([str(bad)])


def test_example_list_at_top_level_parses_cleanly():
    from pathlib import Path
    example = Path(__file__).resolve().parent.parent / "img_list.txt.example"
    parsed = read_lists([str(example)])
    assert parsed.warnings == ()
    assert len(parsed.ids) >= 1
