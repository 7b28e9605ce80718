"""The router benchmark's templated task is built from the core's tools and `router_task`, and the
benchmarks name their data folder relative to the repository, never by this machine's path."""

from pathlib import Path

from bench.data import DATA, REPO, WIKIPEDIA, shown
from bench.router_throughput import build_router_task, section_topics
from ragtune_core.questions.router.tools import DEFAULT_TOOL_TEMPLATES, fill_title

ARTICLE = """{title} is a city.

== History ==
{title} was founded long ago.

== Economy ==
Trade and ports.

== See also ==
Other cities.

== References ==
"""


def test_the_shared_data_folder_is_found_beside_the_repository_and_shown_relative_to_it(tmp_path):
    assert DATA == REPO.parent / "shared" / "data"
    assert shown(WIKIPEDIA) == "../shared/data/wikipedia"
    assert shown(REPO / "bench" / "out") == "bench/out"
    outside = Path("/") / "elsewhere" / "articles"
    assert shown(outside) == str(outside)


def test_no_benchmark_file_names_an_absolute_path_of_this_machine():
    for path in sorted((REPO / "bench").glob("*.*")):
        assert str(REPO.parent) + "/" not in path.read_text(encoding="utf-8"), path.name


def test_back_matter_and_empty_sections_are_no_topics():
    assert section_topics(ARTICLE.format(title="Oslo")) == ["History", "Economy"]


def test_the_templated_task_routes_among_the_core_default_tools(tmp_path):
    for title in ("Oslo", "São Paulo"):
        (tmp_path / f"{title}.txt").write_text(ARTICLE.format(title=title), encoding="utf-8")
    task = build_router_task(tmp_path, summary_per_title=2)
    titles = ["Oslo", "São Paulo"]  # sorted file order
    assert [(c.name, c.description) for c in task.choices] == [
        (fill_title(t.name, title), fill_title(t.description, title))
        for title in titles
        for t in DEFAULT_TOOL_TEMPLATES
    ]
    assert task.source.endswith("(2 articles)")
    # per article: two section questions for its vector tool, two summary requests for its summary tool
    assert task.expected == [0, 0, 1, 1, 2, 2, 3, 3]
    assert "history of São Paulo" in task.queries[4]
    assert task.sample(4).expected == [0, 1, 2, 3]
