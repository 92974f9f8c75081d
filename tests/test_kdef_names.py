"""KDEF file names: every documented form, the quirks of the copies in circulation, and what is not a name."""

from __future__ import annotations

import itertools

import pytest

from moodtune.training.datasets import KDEF_ANGLES, KDEF_EXPRESSIONS, parse_kdef_name


@pytest.mark.parametrize(("code", "angle"), itertools.product(KDEF_EXPRESSIONS, KDEF_ANGLES))
def test_every_expression_and_angle(code, angle):
    name = parse_kdef_name(f"BM35{code}{angle}.JPG")
    assert name is not None
    assert (name.session, name.gender, name.identity, name.subject) == ("B", "M", 35, "M35")
    assert name.expression == KDEF_EXPRESSIONS[code]
    assert name.angle == angle
    assert name.code == f"BM35{code}{angle}"
    assert name.quirks == ()


def test_documented_examples():
    straight = parse_kdef_name("AF01ANS.JPG")
    assert (straight.session, straight.gender, straight.identity, straight.subject) == ("A", "F", 1, "F01")
    assert (straight.expression, straight.angle) == ("angry", "S")
    profile = parse_kdef_name("AM12HAFL.JPG")
    assert (profile.subject, profile.expression, profile.angle) == ("M12", "happy", "FL")


def test_afraid_is_read_by_position_not_by_search():
    # "AF" is session A + female and also the code for afraid.
    name = parse_kdef_name("AF01AFFL.JPG")
    assert (name.session, name.gender, name.expression, name.angle) == ("A", "F", "afraid", "FL")


def test_both_sessions_are_one_subject():
    assert parse_kdef_name("AF07SAS.JPG").subject == parse_kdef_name("BF07SAS.JPG").subject == "F07"
    assert parse_kdef_name("AF07SAS.JPG").subject != parse_kdef_name("AM07SAS.JPG").subject


@pytest.mark.parametrize(("name", "quirk"), [
    ("af01ans.jpg", "lower-case name"),
    ("Af01AnS.JPG", "lower-case name"),
    ("AF01ANS.jpeg", "extension .jpeg"),
    ("AF05DIHR.png", "extension .png"),
    ("AF01AN.JPG", "angle letters missing; straight (S) assumed"),
])
def test_quirks_are_tolerated_and_named(name, quirk):
    parsed = parse_kdef_name(name)
    assert parsed is not None
    assert quirk in parsed.quirks


def test_extension_case_paths_and_spaces():
    assert parse_kdef_name("AF01SUS.jpg").quirks == ()
    assert parse_kdef_name("AF01ANS").angle == "S"
    assert parse_kdef_name("KDEF/AF01/AF01AFHL.JPG").angle == "HL"
    assert parse_kdef_name(" AM10ANS.JPG ").subject == "M10"
    assert parse_kdef_name("AF01ANS.BMP").expression == "angry"


def test_missing_angle_means_straight():
    assert parse_kdef_name("BM16SA.jpg").angle == "S"


@pytest.mark.parametrize("name", [
    "AF1ANS.JPG",      # one-digit identity
    "CF01ANS.JPG",     # no session C
    "AX01ANS.JPG",     # no gender X
    "AF01XXS.JPG",     # no expression XX
    "AF01ANXL.JPG",    # no angle XL
    "AF01ANSS.JPG",    # trailing letter
    "AF00ANS.JPG",     # identities are 01-35
    "AF36ANS.JPG",
    "AF01ANS (1).JPG",  # a copy's copy
    "AF01ANS.txt",     # not an image
    "README.md",
    "",
])
def test_what_is_not_a_kdef_name(name):
    assert parse_kdef_name(name) is None
