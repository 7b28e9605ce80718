import pytest

from bench.results import read_section, write_section


def test_a_benchmark_rewrites_its_own_section_and_keeps_the_others(tmp_path):
    results = tmp_path / "RESULTS.md"
    write_section("Speed", "old speed", results)
    write_section("Quality", "### Part\n\nquality table", results)
    write_section("Speed", "new speed\n\nsecond paragraph", results)
    text = results.read_text()
    assert text.startswith("# Benchmark results\n\n## Speed\n\nnew speed\n\nsecond paragraph\n\n## Quality\n")
    assert "old speed" not in text
    assert read_section("Quality", results) == "### Part\n\nquality table"
    assert read_section("Speed", results) == "new speed\n\nsecond paragraph"
    assert read_section("Memory", results) is None


def test_a_body_that_would_start_another_section_is_refused_and_the_file_kept(tmp_path):
    results = tmp_path / "RESULTS.md"
    write_section("Speed", "fast", results)
    before = results.read_text()
    with pytest.raises(ValueError, match="use '###'"):
        write_section("Speed", "fast\n## Sneaky", results)
    with pytest.raises(ValueError, match="one line of text"):
        write_section("## Speed", "fast", results)
    assert results.read_text() == before
