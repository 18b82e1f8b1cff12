"""Citations of docs/architecture.md in the code and README point at sections and equations the document has; no
code cites a design file outside the repository or an issue number (docs/architecture.md §1-§7 are the targets)."""
from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
CODE_SUFFIXES = (".py", ".sh", ".yaml", ".yml", ".toml")
SKIP_DIRS = {"__pycache__", "node_modules", "out", "build", "dist"}

# "architecture.md" then one or more "§N", "§N-M", "eq. N.M" joined by commas / "and"; the group is what is cited.
_CITE = re.compile(r"architecture\.md((?:\s*(?:,|and)?\s*(?:§\s*\d+(?:\s*[-–]\s*§?\s*\d+)?|eqs?\.\s*\d+\.\d+"
                   r"(?:\s*[-–]\s*\d+\.\d+)?))*)")
_SECTION = re.compile(r"§\s*(\d+)(?:\s*[-–]\s*§?\s*(\d+))?")
_EQUATION = re.compile(r"eqs?\.\s*(\d+\.\d+)(?:\s*[-–]\s*(\d+\.\d+))?")
# Built from parts so that this file does not match itself.
_FOREIGN_DESIGN = re.compile("DESIGN" + r"\.md", re.IGNORECASE)
_ISSUE = re.compile(r"\bissues?\s*#?\s*\d+|github\.com/[^\s)]+/issues/\d+", re.IGNORECASE)


def doc_sections(text: str) -> set[int]:
    """Section numbers the document defines (headings `## §N Title`)."""
    return {int(n) for n in re.findall(r"^## §(\d+)\b", text, re.MULTILINE)}


def doc_equations(text: str) -> set[str]:
    """Equation labels the document defines: a line ending in `(N.M)`."""
    return set(re.findall(r"\((\d+\.\d+)\)\s*$", text, re.MULTILINE))


def _expand(first: str, last: str | None) -> list[str]:
    """'3.2'..'3.4' -> ['3.2', '3.3', '3.4'] (one label when there is no range)."""
    if last is None:
        return [first]
    (s, a), (s2, b) = (tuple(int(x) for x in first.split(".")), tuple(int(x) for x in last.split(".")))
    return [f"{s}.{k}" for k in range(a, b + 1)] if s == s2 and a <= b else [first, last]


def bad_citations(text: str, sections: set[int], equations: set[str], require_section: bool = True) -> list[str]:
    """Each citation in `text` of a section / equation the document lacks, and (`require_section`) each mention of
    the document that names neither (code cites a section; the README may link the whole document)."""
    bad = []
    for m in _CITE.finditer(text):
        cited = m.group(1)
        secs = [int(n) for a, b in _SECTION.findall(cited) for n in range(int(a), int(b or a) + 1)]
        eqs = [e for a, b in _EQUATION.findall(cited) for e in _expand(a, b or None)]
        if require_section and not secs and not eqs:
            bad.append("architecture.md without a section (cite it as docs/architecture.md §N or eq. N.M)")
        bad += [f"§{n} (the document has §{', §'.join(map(str, sorted(sections)))})" for n in secs
                if n not in sections]
        bad += [f"eq. {e} (not labelled in the document)" for e in eqs if e not in equations]
    return bad


def forbidden_references(text: str) -> list[str]:
    """A design file outside the repository or an issue number, cited in code."""
    return [m.group(0) for pat in (_FOREIGN_DESIGN, _ISSUE) for m in pat.finditer(text)]


def _files() -> list[Path]:
    """Code files of the repository (hidden folders such as virtual environments and caches skipped)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS
                       and not d.endswith(".egg-info")]
        out += [Path(dirpath) / f for f in filenames if f.endswith(CODE_SUFFIXES) or f == "Makefile"]
    return sorted(out)


def _lines_with(path: Path, found: list[str]) -> list[str]:
    return [f"{path.relative_to(ROOT)}: {item}" for item in found] if found else []


def test_the_document_defines_sections_1_to_7_and_numbered_equations() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert doc_sections(text) == set(range(1, 8))
    eqs = doc_equations(text)
    assert {"3.1", "3.3", "3.8", "3.10", "5.1", "6.2"} <= eqs


def test_every_citation_points_at_a_section_or_equation_the_document_has() -> None:
    text = DOC.read_text(encoding="utf-8")
    sections, equations = doc_sections(text), doc_equations(text)
    me = Path(__file__).resolve()
    problems: list[str] = []
    n_cites = 0
    for path in [p for p in _files() if p.resolve() != me] + [ROOT / "README.md"]:
        body = path.read_text(encoding="utf-8", errors="replace")
        n_cites += len(_CITE.findall(body))
        problems += _lines_with(path, bad_citations(body, sections, equations, path.suffix != ".md"))
    assert not problems, "citations of docs/architecture.md that point nowhere:\n" + "\n".join(problems)
    assert n_cites >= 20  # the code does cite the document; a regex that matched nothing would pass vacuously


def test_no_code_cites_a_foreign_design_file_or_an_issue_number() -> None:
    me = Path(__file__).resolve()
    problems: list[str] = []
    for path in _files():
        if path.resolve() == me:
            continue
        body = path.read_text(encoding="utf-8", errors="replace")
        problems += _lines_with(path, forbidden_references(body))
    assert not problems, "cite docs/architecture.md §N or a paper instead:\n" + "\n".join(problems)


def test_the_checker_flags_what_it_should() -> None:
    sections, equations = {1, 2, 3}, {"3.1", "3.2"}
    assert bad_citations("see docs/architecture.md §3 and eq. 3.2", sections, equations) == []
    assert bad_citations("(docs/architecture.md §1, §3)", sections, equations) == []
    assert bad_citations("(docs/architecture.md §2-3)", sections, equations) == []
    assert bad_citations("docs/architecture.md eq. 3.1-3.2", sections, equations) == []
    assert len(bad_citations("(docs/architecture.md §9)", sections, equations)) == 1
    assert len(bad_citations("(docs/architecture.md §2-4)", sections, equations)) == 1
    assert len(bad_citations("docs/architecture.md eq. 3.7", sections, equations)) == 1
    assert len(bad_citations("as docs/architecture.md says", sections, equations)) == 1
    assert bad_citations("[the design](docs/architecture.md)", sections, equations, require_section=False) == []
    assert forbidden_references("# see " + "DESIGN" + ".md §3") != []
    assert forbidden_references("# fixed in issue 12") and forbidden_references("# (Issue #7)")
    assert forbidden_references("tl.command(cmd, issued_at=0.0)  # an issued command") == []


def test_readme_tour_links_the_document() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## A tour", 1)[1].split("\n## ", 1)[0]
    assert "(docs/architecture.md)" in tour
