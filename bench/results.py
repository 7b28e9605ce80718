"""bench/RESULTS.md, one "## heading" section per benchmark: each script rewrites its own section only.

from bench.results import publish
publish("Router selectors", body, write=not args.no_write)   # body: the text under the heading, "###" parts allowed
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = "# Benchmark results"


def publish(heading: str, body: str, write: bool = True) -> None:
    """Print the section and, unless `write` is false (a benchmark's --no-write), store it in RESULTS.md."""
    print(f"\n## {heading}\n\n{body}", flush=True)
    if write:
        write_section(heading, body)
        print(f"written to {RESULTS}")


def write_section(heading: str, body: str, path: Path = RESULTS) -> None:
    """Replace the "## heading" section of `path` with `body` (append it if absent), keeping every other
    section as it is. The file is replaced in one step, so an interrupted run never leaves half of it."""
    marker = _marker(heading)
    body_lines = body.strip("\n").splitlines()
    nested = next((line for line in body_lines if line.startswith("## ")), None)
    if nested is not None:
        raise ValueError(
            f"the body of section {heading!r} holds the heading {nested!r}, which would start a "
            "section of its own; use '###' for its parts"
        )
    lines = _read_lines(path)
    new = [marker, "", *body_lines]
    bounds = _bounds(lines, marker)
    if bounds is None:
        lines += ["", *new]
    else:
        start, end = bounds
        lines[start:end] = [*new, ""]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines).strip() + "\n", encoding="utf-8")
    tmp.replace(path)


def read_section(heading: str, path: Path = RESULTS) -> str | None:
    """The body of the "## heading" section of `path` (without the heading line), None if it has none."""
    lines = _read_lines(path)
    bounds = _bounds(lines, _marker(heading))
    if bounds is None:
        return None
    start, end = bounds
    return "\n".join(lines[start + 1 : end]).strip("\n")


def _marker(heading: str) -> str:
    heading = heading.strip()
    if not heading or "\n" in heading or heading.startswith("#"):
        raise ValueError(f"a section heading is one line of text without leading '#', not {heading!r}")
    return f"## {heading}"


def _read_lines(path: Path) -> list[str]:
    return (path.read_text(encoding="utf-8") if path.exists() else TITLE).rstrip("\n").splitlines()


def _bounds(lines: list[str], marker: str) -> tuple[int, int] | None:
    """[start, end) of the section under `marker`: up to the next "## " heading or the end of the file."""
    if marker not in lines:
        return None
    start = lines.index(marker)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start, end
