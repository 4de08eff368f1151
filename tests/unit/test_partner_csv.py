"""Reading, checking and planning partner CSV files, without a database."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal import csvtext
from portal.csvtext import FileProblem
from portal.partners import csv_plan
from portal.partners.csv_plan import COLUMNS, Catalogue, PartnerRecord

CATALOGUE = Catalogue(
    tiers=frozenset({"Gold", "Silver"}),
    sla_policies=frozenset({"Fast"}),
    territories=frozenset({"DE", "DE-PC-80", "AT"}),
    products=frozenset({"CB", "EF"}),
)
HEADER = ",".join(COLUMNS)
GOOD = (
    "Nordlicht IT,gold,,30,de,Europe/Berlin,,Jana,jana@nordlicht.example,+49 40,"
    "DE; DE-PC-80,CB:2; EF"
)


def _plan(*lines, existing=None):
    text = "\n".join([HEADER, *lines]) + "\n"
    return csv_plan.plan(csv_plan.read_rows(text), existing or {}, CATALOGUE)


def test_a_good_line_becomes_a_partner_to_create_with_canonical_values():
    line = _plan(GOOD).lines[0]
    assert line.action == "create" and line.line == 2
    record = line.record
    assert (record.tier, record.country, record.status) == ("Gold", "DE", "active")
    assert record.territories == {"DE", "DE-PC-80"} and record.products == {("CB", 2), ("EF", 0)}


def test_every_problem_of_a_line_is_reported_with_its_line_number():
    bad = "X,Platinum,sleeping,-1,XX,Nowhere/City,Slow,,not-mail,,FR,ZZ:9"
    line = _plan(GOOD.replace("Nordlicht", "A"), bad).lines[1]
    assert line.action == "error" and line.line == 3
    joined = " ".join(line.errors)
    for column in (
        "tier",
        "status",
        "capacity",
        "country",
        "timezone",
        "sla_policy",
        "contact_email",
        "territories",
        "products",
    ):
        assert f"{column}:" in joined


def test_a_name_repeated_in_the_file_is_an_error_on_the_later_line():
    plan = _plan(GOOD, GOOD.replace("Nordlicht IT", "NORDLICHT it"))
    assert plan.lines[1].action == "error" and "line 2" in plan.lines[1].errors[0]


def test_quoted_cells_with_commas_and_newlines_keep_their_line_numbers():
    quoted = '"Comma, Newline\nGmbH",Gold,,5,AT,Europe/Vienna,,,,,AT,'
    plan = _plan(GOOD, quoted, GOOD.replace("Nordlicht IT", "Third"))
    assert [line.line for line in plan.lines] == [2, 3, 5]
    assert plan.lines[1].name == "Comma, Newline GmbH"  # white space folds, as in the form


def test_a_wrong_header_names_the_missing_and_unknown_columns():
    with pytest.raises(FileProblem, match=r"missing products.*unknown 'colour'"):
        csv_plan.read_rows(HEADER.replace("products", "colour") + "\n" + GOOD)


def test_an_empty_file_a_header_only_file_and_latin_1_bytes_are_clear_errors():
    with pytest.raises(FileProblem, match="empty"):
        csvtext.decode(b"  \n")
    with pytest.raises(FileProblem, match="no partner lines"):
        csv_plan.read_rows(HEADER + "\n")
    with pytest.raises(FileProblem, match="not UTF-8"):
        csvtext.decode("name\nMüller GmbH".encode("latin-1"))


def test_a_utf8_byte_order_mark_is_accepted():
    assert csvtext.decode(("\ufeff" + HEADER).encode()).startswith("name")


def test_too_many_lines_are_refused_as_a_whole():
    text = HEADER + "\n" + (GOOD + "\n") * (csv_plan.MAX_LINES + 1)
    with pytest.raises(FileProblem, match="more than 20,000"):
        csv_plan.read_rows(text)


def _line_with_territories(cell, catalogue):
    text = "\n".join([HEADER, GOOD.replace("DE; DE-PC-80", cell)]) + "\n"
    return csv_plan.plan(csv_plan.read_rows(text), {}, catalogue).lines[0]


def test_an_old_postal_code_is_read_as_the_code_that_replaced_it():
    catalogue = replace(CATALOGUE, territory_aliases={"DE-80": "DE-PC-80"})
    line = _line_with_territories("DE; de-80", catalogue)
    assert line.action == "create" and line.record.territories == {"DE", "DE-PC-80"}


def test_a_code_that_is_a_territory_today_is_that_territory_and_not_an_alias():
    catalogue = replace(
        CATALOGUE,
        territories=CATALOGUE.territories | {"FR-69", "FR-PC-69"},
        territory_aliases={"FR-69": "FR-PC-69"},
    )
    assert _line_with_territories("FR-69", catalogue).record.territories == {"FR-69"}


def test_an_old_postal_code_without_an_alias_is_unknown():
    line = _line_with_territories("DE; DE-81", CATALOGUE)
    assert line.action == "error" and line.errors == ["territories: unknown territories DE-81"]


def test_an_unchanged_partner_is_unchanged_and_a_changed_one_lists_its_changes():
    record = _plan(GOOD).lines[0].record
    assert _plan(GOOD, existing={"nordlicht it": record}).lines[0].action == "unchanged"
    moved = _plan(GOOD.replace(",30,", ",31,"), existing={"nordlicht it": record}).lines[0]
    assert moved.action == "update" and moved.changes == {"capacity": ("30", "31")}


names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda s: s.strip() and " ".join(s.split()) == s
)


@given(
    names, st.sampled_from(["", "Fast"]), st.frozensets(st.sampled_from(["DE", "DE-PC-80", "AT"]))
)
def test_writing_then_reading_a_partner_gives_it_back_unchanged(name, policy, territories):
    record = PartnerRecord(
        name=name,
        tier="Silver",
        status="paused",
        capacity=7,
        country="AT",
        timezone="Europe/Vienna",
        sla_policy=policy,
        contact_name="=cmd|' /C calc'!A0",
        contact_email="",
        contact_phone="+43 1",
        territories=territories,
        products=frozenset({("EF", 3)}),
    )
    text = csv_plan.write_csv([record])
    plan = csv_plan.plan(csv_plan.read_rows(text), {name.lower(): record}, CATALOGUE)
    assert [line.action for line in plan.lines] == ["unchanged"], plan.lines[0].errors


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted_on_export():
    assert csvtext.quote_formula("=SUM(A1)") == "'=SUM(A1)"
    assert csvtext.quote_formula("@risk") == "'@risk"
    assert csvtext.quote_formula("Plain") == "Plain"
    assert csvtext.unquote_formula("'=SUM(A1)") == "=SUM(A1)"
    assert csvtext.unquote_formula("'quoted") == "'quoted"
