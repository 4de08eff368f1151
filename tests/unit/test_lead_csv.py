"""Reading lead CSV files and mapping their columns, without a database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal import csvtext
from portal.csvtext import FileProblem
from portal.leads import csv_rows


def test_columns_are_matched_by_name_alias_or_label_and_each_field_once():
    header = ["E-Mail", "Company Name", "ZIP", "Web site", "email", "Notes", "BANT: budget"]
    assert csv_rows.guess_mapping(header) == [
        "contact_email",
        "company_name",
        "postal_code",
        "company_domain",
        None,  # the e-mail is already taken by the first column
        None,
        "bant_budget",
    ]


def test_a_mapping_names_each_field_once_and_includes_the_company():
    assert csv_rows.mapping_errors(["company_name", None, "contact_email"]) == {}
    errors = csv_rows.mapping_errors(["contact_email", "contact_email", "nonsense"])
    assert errors == {
        1: "Contact e-mail is already taken from column 1.",
        2: "Choose a lead field from the list.",
        -1: "Choose the column that holds: Company.",
    }


def test_records_are_numbered_by_the_line_they_start_on_and_blank_lines_skipped():
    text = 'company,note\r\nA,"two\r\nlines"\r\n\r\n,\r\nB,plain\r\n'
    assert list(csv_rows.records(text)) == [(2, ["A", "two\r\nlines"]), (6, ["B", "plain"])]
    assert csv_rows.count_records(text) == 2


def test_a_header_alone_an_empty_header_and_too_many_lines_are_file_problems(monkeypatch):
    with pytest.raises(FileProblem, match="no lead lines"):
        csv_rows.count_records("company\r\n\r\n")
    with pytest.raises(FileProblem, match="name the columns"):
        csv_rows.read_header(",,\r\nA,B,C")
    monkeypatch.setattr(csv_rows, "MAX_LINES", 2)
    with pytest.raises(FileProblem, match="more than 2 leads"):
        csv_rows.count_records("company\nA\nB\nC\n")


def test_a_line_becomes_lead_data_with_bant_answers_and_file_problems():
    mapping = ["company_name", "bant_budget", "bant_need", None, "contact_phone", "employees"]
    data, errors = csv_rows.lead_data(
        ["Acme", "Yes", "Backups", "ignored", "+44 20 7946", ""], mapping
    )
    assert errors == {}
    assert data == {
        "company_name": "Acme",
        "bant": {"budget": True, "need": "Backups"},
        "contact_phone": "+44 20 7946",
        "employees": None,
    }
    data, errors = csv_rows.lead_data(["=1+1", "no", "", "", "@SUM(A1)", "-5", "extra"], mapping)
    assert set(errors) == {"company_name", "contact_phone", "line"}
    assert data["bant"] == {"budget": False} and data["employees"] == "-5"
    # An apostrophe a spreadsheet export put before a formula character is taken off.
    assert csv_rows.lead_data(["'=Acme"], ["company_name"])[0] == {"company_name": "=Acme"}


@pytest.mark.parametrize(
    ("cell", "formula"),
    [
        ("=SUM(A1:A3)", True),
        ("@HYPERLINK", True),
        ("+cmd|' /C calc'!A0", True),
        ("-2+3*A1", True),
        ("+49 30 1234567", False),
        ("-250", False),
        ("(030) 123-45", False),
        ("Acme", False),
        ("", False),
    ],
)
def test_what_counts_as_a_formula(cell, formula):
    assert csvtext.is_formula(cell) is formula


@given(st.text(max_size=40))
def test_a_quoted_cell_never_runs_as_a_formula_and_unquotes_to_itself(cell):
    quoted = csvtext.quote_formula(cell)
    assert not quoted.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert csvtext.unquote_formula(quoted) == cell or cell.startswith("'")


def test_the_rejected_line_report_names_fields_by_their_labels():
    line = csv_rows.rejected_line(7, {"contact_email": "bad", "line": "too many"}, ["A", "b@"])
    assert line == ["7", "Contact e-mail: bad; line: too many", "A", "b@"]


def test_a_latin_1_file_is_read_when_asked_and_refused_as_utf_8():
    raw = "company\nMüller €".encode("cp1252")
    assert csvtext.decode(raw, "cp1252") == "company\nMüller €"
    with pytest.raises(FileProblem, match="not UTF-8"):
        csvtext.decode(raw)
    with pytest.raises(FileProblem, match="not Latin-1"):
        csvtext.decode(b"company\n\x81", "cp1252")
