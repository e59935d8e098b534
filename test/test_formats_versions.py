# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""Version order: numeric or dotted numerically, otherwise by endorsement date."""

from __future__ import annotations

import itertools

import pytest

from glancing.formats.versions import (VersionInfo, comparable, compare_versions, is_numeric,
                                       numeric_parts, sort_versions)
from manager_helpers import when


@pytest.mark.parametrize("text,parts", [
    ("10", (10,)), ("1.10", (1, 10)), (" 2.0.1 ", (2, 0, 1)), ("1.0", (1,)), ("20160411", (20160411,)),
    ("", None), (None, None), ("1.2a", None), ("v1", None), ("1..2", None), (".1", None), ("stable", None),
])
def test_numeric_parts(text, parts):
    assert numeric_parts(text) == parts
    assert is_numeric(text) is (parts is not None)


@pytest.mark.parametrize("newer,older", [("10", "9"), ("1.10", "1.9"), ("2", "1.99"), ("1.0.1", "1")])
def test_numeric_versions_compare_numerically(newer, older):
    # The dates point the other way on purpose: numbers win when both versions are numeric.
    a, b = VersionInfo(newer, when(1)), VersionInfo(older, when(9))
    assert compare_versions(a, b) == 1
    assert compare_versions(b, a) == -1


def test_equal_numbers_fall_back_to_the_endorsement_date():
    assert compare_versions(VersionInfo("1.0", when(5)), VersionInfo("1", when(3))) == 1
    assert compare_versions(VersionInfo("1.0", when(5)), VersionInfo("1.0", when(5))) == 0


def test_non_numeric_versions_compare_by_endorsement_date():
    assert compare_versions(VersionInfo("stable", when(2)), VersionInfo("beta", when(1))) == 1
    # One numeric, one not: the date decides, not the number.
    assert compare_versions(VersionInfo("9", when(1)), VersionInfo("rc-10", when(2))) == -1


def test_missing_date_is_the_oldest_and_not_comparable():
    dated, undated = VersionInfo("x", when(1)), VersionInfo("y", None)
    assert compare_versions(dated, undated) == 1
    assert not comparable(dated, undated)
    assert comparable(VersionInfo("1", None), VersionInfo("2", None))


def test_sort_is_total_even_when_pairwise_rule_would_cycle():
    # Pairwise: "2" > "1" by number, "1"(day 9) > "x"(day 5) by date, "x"(day 5) > "2"(day 1).
    items = [VersionInfo("2", when(1)), VersionInfo("1", when(9)), VersionInfo("x", when(5))]
    orders = {tuple(sort_versions(p)) for p in itertools.permutations(items)}
    assert len(orders) == 1  # the same order whatever the input order
    assert [i.version for i in orders.pop()] == ["2", "x", "1"]  # mixed set: by date


def test_sort_all_numeric_is_numeric():
    items = [VersionInfo(v) for v in ("1.10", "1.9", "10", "9", "1.2.3")]
    assert [i.version for i in sort_versions(items)] == ["1.2.3", "1.9", "1.10", "9", "10"]
