import pymupdf
import pytest

from ragtune_core.corpus.ingest import load_files, load_pdf, load_pdfs, load_text, load_texts, split_sections


def make_pdf(pages: list[str], title: str | None = None, **save_options) -> bytes:
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        if text:
            page.insert_textbox(pymupdf.Rect(72, 72, 520, 770), text)
    if title:
        doc.set_metadata({"title": title})
    return doc.tobytes(**save_options)


def image_only_pdf() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 40, 40), False)
    pixmap.clear_with(120)
    page.insert_image(pymupdf.Rect(72, 72, 272, 272), pixmap=pixmap)
    return doc.tobytes()


ZERO_PAGE_PDF = (
    b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
    b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
)


def only_error(result):
    assert not result.documents
    assert len(result.errors) == 1
    return result.errors[0]


# PDF -----------------------------------------------------------------------------------------
def test_pdf_pages_become_spans_with_page_numbers():
    data = make_pdf(["Lyft connects riders.\nDrivers earn money.", "", "Revenue grew in 2021."])
    result = load_pdf("lyft_2021.pdf", data)
    assert not result.errors
    doc = result.documents[0]
    assert doc.title == "lyft_2021"
    assert doc.source == "pdf:lyft_2021.pdf"
    assert [s.page for s in doc.spans] == [1, 3]  # the blank page 2 has no text and no span
    assert doc.span_at(doc.text.index("Drivers")).page == 1
    assert doc.span_at(doc.text.index("Revenue")).page == 3
    # Each text block is one line: line wraps inside a paragraph are not sentence breaks.
    assert "Lyft connects riders. Drivers earn money." in doc.text


def test_pdf_title_from_metadata_only_when_sensible():
    named = load_pdf("report.pdf", make_pdf(["Some text."], title="Annual Report 2021")).documents[0]
    generated = load_pdf("report.pdf", make_pdf(["Some text."], title="0001759509-22-000016")).documents[0]
    word_export = load_pdf("report.pdf", make_pdf(["Some text."], title="Microsoft Word - draft.docx")).documents[0]
    assert named.title == "Annual Report 2021"
    assert generated.title == "report"
    assert word_export.title == "report"


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("scan.pdf", image_only_pdf(), "no text layer (image-only PDF"),
        ("blank.pdf", make_pdf([""]), "blank"),
        (
            "secret.pdf",
            make_pdf(["Top secret."], encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="own"),
            "password-protected",
        ),
        ("broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50, "damaged PDF"),
        ("empty.pdf", b"", "empty"),
        ("zero.pdf", ZERO_PAGE_PDF, "no pages"),
        ("notes.pdf", b"just some words, not a PDF", "not a PDF"),
    ],
)
def test_unusable_pdfs_are_named_errors(name, data, expected):
    error = only_error(load_pdf(name, data))
    assert error.name == name
    assert expected in error.message


def test_pdf_encrypted_without_user_password_still_loads():
    data = make_pdf(["Readable text."], encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner-only")
    result = load_pdf("locked-for-editing.pdf", data)
    assert not result.errors
    assert "Readable text." in result.documents[0].text


def test_one_bad_pdf_does_not_stop_the_others():
    result = load_pdfs(
        [("a.pdf", make_pdf(["Alpha text."])), ("scan.pdf", image_only_pdf()), ("b.pdf", make_pdf(["Beta text."]))]
    )
    assert [d.title for d in result.documents] == ["a", "b"]
    assert [e.name for e in result.errors] == ["scan.pdf"]


def test_the_same_file_twice_is_loaded_once():
    data = make_pdf(["Alpha text."])
    result = load_pdfs([("a.pdf", data), ("a.pdf", data)])
    assert len(result.documents) == 1
    assert result.errors[0].name == "a.pdf"
    assert "twice" in result.errors[0].message


# text ----------------------------------------------------------------------------------------
WIKI_TEXT = """Toronto is a city. It is big.

== History ==

=== Early history ===
People lived here long ago.

== Geography ==
The city lies on a lake.


== See also ==


== References ==

=== Bibliography ===
"""


def test_wiki_headings_become_sections_and_empty_ones_are_dropped():
    text, spans = split_sections(WIKI_TEXT)
    assert "==" not in text
    assert "References" not in text and "See also" not in text and "Bibliography" not in text
    sections = {s.section for s in spans}
    assert sections == {None, "History", "History > Early history", "Geography"}

    def section_of(phrase):
        return next(s.section for s in spans if s.start <= text.index(phrase) < s.end)

    assert section_of("It is big") is None
    assert section_of("long ago") == "History > Early history"
    assert section_of("on a lake") == "Geography"
    assert spans == sorted(spans, key=lambda s: s.start)
    assert spans[-1].end == len(text)


def test_markdown_headings_outside_code_fences_become_sections():
    markdown = "# Guide\nIntro.\n\n## Install\nRun it.\n```sh\n# not a heading\n```\n## Use ##\nCall it.\n"
    text, spans = split_sections(markdown)
    by_section = {s.section: text[s.start : s.end] for s in spans}
    assert by_section["Guide"] == "Guide\nIntro."
    assert "# not a heading" in by_section["Guide > Install"]
    assert by_section["Guide > Use"] == "Use\nCall it."


def test_load_text_from_bytes_and_pasted_str():
    upload = load_text("notes.md", "# Notes\nFirst point.\n".encode("utf-8-sig"))
    pasted = load_text("My pasted notes", "Just a line.")
    assert upload.documents[0].title == "notes"
    assert upload.documents[0].source == "text:notes.md"
    assert upload.documents[0].text == "Notes\nFirst point."  # BOM gone, heading marks gone
    assert upload.documents[0].spans[0].section == "Notes"
    assert pasted.documents[0].title == "My pasted notes"
    assert pasted.documents[0].text == "Just a line."


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("empty.txt", b"  \n\n ", "no text"),
        ("latin1.txt", "caf\u00e9".encode("latin-1"), "not UTF-8"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
    ],
)
def test_unusable_text_is_a_named_error(name, data, expected):
    error = only_error(load_text(name, data))
    assert error.name == name
    assert expected in error.message


def test_pasted_text_needs_a_name():
    error = only_error(load_text("  ", "Some text."))
    assert "name" in error.message


def test_load_texts_keeps_going_after_a_bad_file():
    result = load_texts([("bad.txt", b"\xff\xfe\xfa"), ("good.txt", b"Fine text.")])
    assert [d.title for d in result.documents] == ["good"]
    assert [e.name for e in result.errors] == ["bad.txt"]


# dispatch ------------------------------------------------------------------------------------
def test_load_files_dispatches_by_magic_and_extension():
    result = load_files(
        [
            ("report.pdf", make_pdf(["From a PDF."])),
            ("renamed.bin", make_pdf(["PDF without its extension."])),
            ("readme.markdown", b"# Readme\nHello."),
            ("notes.TXT", b"Plain notes."),
            ("sheet.docx", b"PK\x03\x04 zipped"),
            ("fake.pdf", b"hello"),
        ]
    )
    assert sorted(d.source for d in result.documents) == [
        "pdf:renamed.bin",
        "pdf:report.pdf",
        "text:notes.TXT",
        "text:readme.markdown",
    ]
    errors = {e.name: e.message for e in result.errors}
    assert set(errors) == {"sheet.docx", "fake.pdf"}
    assert "unsupported file type .docx" in errors["sheet.docx"]
    assert "not a PDF" in errors["fake.pdf"]
