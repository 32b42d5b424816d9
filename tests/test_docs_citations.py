"""Every citation of the project's docs resolves (docs/design.md §8.2).

Code, comments, configuration and the docs themselves cite the project's own notes as
``docs/<file>.md §<section>`` or ``docs/<file>.md "<Heading text>"``. This test scans the trees
below and checks that

* (a) every cited section number is the number of a heading of that file (``§4`` is ``## 4.``,
  ``§4.6`` is ``### 4.6 ...``, ``§B.3`` is ``### B.3 ...``); in a range (``§4.2-4.3``, ``§B.4-B.5``)
  both ends exist, and so does every section of a list continuing the citation (``§6.1, §7.1``);
* (b) a quoted heading is the text of one of that file's headings, number left out;
* (c) no citation names one of the notes' files without its ``docs/`` prefix (a bare name meant
  the design brief outside the repository, which is not part of the project);
* (d) nothing points outside the repository at that brief: the only ``../shared`` path allowed is
  the offline data mirror (``../shared/data/...``, a configured default, not a citation).

The repository's top-level README.md is not scanned; this file is not either (its examples are
broken on purpose). Failures list ``file:line: citation: problem``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TREES = ("src", "stages", "tests", "benchmarks", "scripts", "docs", "profiles")
FILES = ("Makefile", "dvc.yaml", "params.yaml")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".sh", ".cfg", ".ini"}
SKIP_PARTS = {"__pycache__", "sentemb.egg-info"}
NOTES = ("methods", "protocol", "style", "design", "pipeline")  # the files a bare name could mean

SEC = r"(?:[0-9]+|[A-Z])(?:\.[0-9]+)*"
ONE = rf"§{SEC}(?:\s*[-–]\s*§?{SEC})?"  # a section or a range of sections
CITATION = re.compile(
    r"docs/(?P<doc>[A-Za-z0-9_-]+)\.md"
    rf"(?:\s+\"(?P<heading>[^\"\n]+)\"|,?\s+(?P<sections>{ONE}(?:\s*(?:,|/|and)\s*{ONE})*))?"
)
# a bare name used as a citation (followed by a section or a quoted heading); style.md anywhere
BARE = re.compile(rf"(?<![\w/.-])(?P<name>(?:{'|'.join(NOTES)})\.md)(?=`?,?\s+[§\"])|(?<![\w/.-])(?P<style>style\.md)")
OUTSIDE = re.compile(r"\.\./shared(?!/data/)|shared/design")
HEADING = re.compile(r"^#{1,6}[ \t]+(?P<text>.+?)[ \t]*$")
NUMBER = re.compile(rf"^(?P<number>{SEC})\.?(?:[ \t]+(?P<title>.*))?$")


@dataclass(frozen=True)
class Heading:
    number: str | None  # "4.6", "B.3", "2"; None for an unnumbered heading
    title: str  # the text after the number
    text: str  # the whole heading text


def parse_headings(markdown: str) -> list[Heading]:
    """The headings of a markdown text, outside fenced code blocks."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match is None:
            continue
        text = match["text"]
        number = NUMBER.match(text)
        if number is not None:
            out.append(Heading(number["number"], (number["title"] or "").strip(), text))
        else:
            out.append(Heading(None, text, text))
    return out


@cache
def doc_headings(doc: str) -> list[Heading] | None:
    path = DOCS / f"{doc}.md"
    return parse_headings(path.read_text(encoding="utf-8")) if path.is_file() else None


def _section_ids(sections: str) -> list[str]:
    """``§4.2-4.3, §6.1`` -> ``["4.2", "4.3", "6.1"]`` (both ends of every range)."""
    return re.findall(SEC, sections.replace("§", " "))


def _norm(text: str) -> str:
    return " ".join(text.replace("**", "").split())


def check_text(text: str, where: str, headings: object = doc_headings) -> list[str]:
    """Problems of the citations in ``text``, as ``<where>:<line>: <citation>: <problem>``.

    ``headings(doc)`` gives the headings of ``docs/<doc>.md`` or None when the file does not exist
    (the tests pass their own for synthetic docs)."""
    problems = []

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    for m in CITATION.finditer(text):
        cited = " ".join(m[0].split())
        found = headings(m["doc"])  # type: ignore[operator]
        if found is None:
            problems.append(f"{where}:{line_of(m.start())}: {cited}: no such file docs/{m['doc']}.md")
            continue
        if m["heading"] is not None:
            titles = {_norm(h.title) for h in found} | {_norm(h.text) for h in found}
            if _norm(m["heading"]) not in titles:
                problems.append(f"{where}:{line_of(m.start())}: {cited}: no heading with that text in "
                                f"docs/{m['doc']}.md")
        if m["sections"] is not None:
            numbers = {h.number for h in found if h.number is not None}
            missing = [s for s in _section_ids(m["sections"]) if s not in numbers]
            if missing:
                problems.append(f"{where}:{line_of(m.start())}: {cited}: no section "
                                f"{', '.join('§' + s for s in missing)} in docs/{m['doc']}.md")
    for m in BARE.finditer(text):
        problems.append(f"{where}:{line_of(m.start())}: {text[m.start():m.start() + 40].splitlines()[0]}: "
                        f"'{m['name'] or m['style']}' without docs/ (the design brief is not part of the project; "
                        "cite a heading of docs/)")
    for m in OUTSIDE.finditer(text):
        problems.append(f"{where}:{line_of(m.start())}: {text[m.start():m.start() + 40].splitlines()[0]}: "
                        "a path outside the repository (cite docs/ instead)")
    return problems


def scanned_files() -> list[Path]:
    paths = [ROOT / f for f in FILES if (ROOT / f).is_file()]
    for tree in TREES:
        paths += [p for p in sorted((ROOT / tree).rglob("*"))
                  if p.is_file() and p.suffix in SUFFIXES and not SKIP_PARTS & set(p.parts)]
    return [p for p in paths if p.resolve() != Path(__file__).resolve()]


def test_every_citation_resolves() -> None:
    files = scanned_files()
    assert len(files) > 100, "the scan found almost nothing: wrong root?"
    problems = [p for path in files
                for p in check_text(path.read_text(encoding="utf-8", errors="replace"),
                                    str(path.relative_to(ROOT)))]
    assert not problems, f"{len(problems)} broken citation(s):\n" + "\n".join(problems)


def test_docs_are_numbered_and_unique() -> None:
    """The cited notes have numbered headings, each number once per file."""
    for doc in ("methods", "protocol", "design", "pipeline"):
        found = doc_headings(doc)
        assert found, f"docs/{doc}.md is missing or has no headings"
        numbers = [h.number for h in found if h.number is not None]
        assert numbers and len(numbers) == len(set(numbers)), f"docs/{doc}.md: duplicate section numbers"
    titles = {h.title for h in doc_headings("pipeline") or []}
    assert {"Params and profiles", "Run layout"} <= titles


# --- the checker on synthetic text ---------------------------------------------------------------

SYNTHETIC = {
    "notes": parse_headings("# Notes\n\n## 1. First\n\n### 1.2 Second part\n\n```\n## 9. in a fence\n```\n"
                            "## B. Letters\n### B.4 Four\n### B.5 Five\n"),
}


def _check(text: str) -> list[str]:
    return check_text(text, "x.py", SYNTHETIC.get)


@pytest.mark.parametrize("text", [
    "see docs/notes.md §1.2.",
    "see docs/notes.md §1 and docs/notes.md §B",
    "(docs/notes.md §1.2, §B.4)",
    "(docs/notes.md §B.4-B.5) and (docs/notes.md §1–§1.2)",
    "docs/notes.md\n    §B.5 item 3",
    'docs/notes.md "Second part"',
    'docs/notes.md "1.2 Second part"',
    "the mirror ../shared/data/datasets-for-simcse",
    "a link [`notes`](notes.md) and docs/notes.md alone",
])
def test_checker_accepts(text: str) -> None:
    assert _check(text) == []


@pytest.mark.parametrize("text,expected", [
    ("see docs/notes.md §1.3.", r"x\.py:1: docs/notes\.md §1\.3: no section §1\.3"),
    ("\n\n(docs/notes.md §1.2, §7.1)", r"x\.py:3: .*no section §7\.1"),
    ("docs/notes.md §B.4-B.6", r"no section §B\.6"),
    ("docs/notes.md §9", r"no section §9"),  # the heading in the code fence does not count
    ('docs/notes.md "Run layout"', r'docs/notes\.md "Run layout": no heading with that text'),
    ("docs/other.md §1", r"no such file docs/other\.md"),
    ("(" + "methods" + ".md §1.2)", r"'methods\.md' without docs/"),
    ("see " + "style" + ".md §3.3", r"'style\.md' without docs/"),
    ("../" + "shared/design/" + "methods.md", r"outside the repository"),
])
def test_checker_catches(text: str, expected: str) -> None:
    problems = _check(text)
    assert problems and re.search(expected, "\n".join(problems)), problems
