"""The README's and the docs' examples run, and what the pages promise about the code stays true.

Each page's fenced blocks run in order, in one namespace per page, in a fresh folder that is also
on ``sys.path`` (so a block titled ``my_rules.py`` can be imported by the next one):

- ```` ```pycon ```` blocks are doctests (stdlib :mod:`doctest`, with ELLIPSIS and
  NORMALIZE_WHITESPACE, so a long output line may be wrapped on the page): each ``>>>`` line
  runs and its output must match;
- ```` ```python ```` blocks run as a script; one titled ``title="NAME.py"`` is also written to NAME.py;
- ```` ```console ```` blocks are shell sessions of the ``matcalc`` command: each ``$ matcalc ...``
  line runs through :func:`matcalc.cli.main` (in this process: no new interpreter) and its stdout
  must match the lines under it; ``$ echo $?`` prints the last exit code.

Blocks in other languages (``bash`` install commands, ``text`` output, ``yaml``) are shown, not run.
"""

from __future__ import annotations

import doctest
import io
import re
import shlex
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
RUN = {"pycon", "python", "console"}
FENCE = re.compile(r"^```(?P<lang>[\w-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, its info string's title (if any), its text and its line."""

    lang: str
    title: str | None
    body: str
    line: int


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    out = []
    for m in FENCE.finditer(text):
        title = re.search(r'title="([^"]+)"', m["info"])
        line = text.count("\n", 0, m.start("body")) + 1
        out.append(Block(m["lang"], title[1] if title else None, m["body"], line))
    return out


def _relative(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _run_pycon(block: Block, page: Path, namespace: dict[str, object]) -> None:
    test = doctest.DocTestParser().get_doctest(block.body, namespace, _relative(page), str(page),
                                               block.line - 1)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)  # DocTest ran on a copy: the next block sees what this one defined
    assert runner.failures == 0, f"{_relative(page)}:{block.line}: a doctest failed\n{report.getvalue()}"


def _console(body: str) -> Iterator[tuple[str, str, int]]:
    """(command, expected output, offset of the command's line) for each ``$`` line."""
    lines = body.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    assert starts and starts[0] == 0, "a console block starts with a `$ ` command line"
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(lines)
        yield lines[start][2:], "".join(line + "\n" for line in lines[start + 1:end]), start


def _run_console(block: Block, page: Path) -> None:
    from matcalc.cli import main

    checker = doctest.OutputChecker()
    code = 0
    for command, expected, offset in _console(block.body):
        where = f"{_relative(page)}:{block.line + offset}: `{command}`"
        if command == "echo $?":
            got = f"{code}\n"
        else:
            argv = shlex.split(command)
            assert argv[0] == "matcalc", f"{where}: only `matcalc` commands run in console blocks"
            buffer = io.StringIO()
            with redirect_stdout(buffer):
                code = main(argv[1:])
            got = buffer.getvalue()
        if not checker.check_output(expected, got, FLAGS):
            example = doctest.Example(command, expected)
            pytest.fail(f"{where}\n" + checker.output_difference(example, got, FLAGS))


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.lang in RUN for b in blocks(p))], ids=_relative)
def test_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    try:
        for block in blocks(page):
            if block.lang == "pycon":
                _run_pycon(block, page, namespace)
            elif block.lang == "python":
                if block.title:
                    (tmp_path / block.title).write_text(block.body)
                exec(compile(block.body, f"{page}:{block.line}", "exec"), namespace)
            elif block.lang == "console":
                _run_console(block, page)
    finally:
        for name in set(sys.modules) - before:  # the page's own modules (my_rules), never twice
            if str(tmp_path) in str(getattr(sys.modules[name], "__file__", "") or ""):
                del sys.modules[name]


def test_every_page_example_is_run() -> None:
    # A ```py or ```python3 block would be shown but never run: name the languages that run.
    shown = {"bash", "text", "yaml", "toml", ""}
    for page in PAGES:
        for block in blocks(page):
            assert block.lang in RUN | shown, f"{_relative(page)}:{block.line}: fence `{block.lang}` is not run"


def _readme_block_after(heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(heading):]
    return next(b for b in blocks(ROOT / "README.md") if b.lang == "bash" and b.body in section).body.strip()


def test_ci_runs_the_readme_commands() -> None:
    tests = next(line for line in (ROOT / "README.md").read_text().splitlines() if "python -m pytest" in line)
    docs = _readme_block_after("## Build the docs")
    ci_run = (ROOT / ".ci" / "run").read_text()
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert tests.strip() in ci_run and docs in ci_run
    assert ci_run.index(tests.strip()) < ci_run.index(docs), ".ci/run builds the docs after the tests"
    for command in (tests.strip(), docs):
        assert command in workflow, f"ci.yml does not run `{command}`"


def test_readme_links_point_at_files() -> None:
    # GitHub shows the README: its relative links must name files of this repository.
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\((?!https?://|#)([^)#\s]+)", readme)
    assert targets
    for target in targets:
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


def test_readme_links_every_guide() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in sorted(DOCS.glob("*.md")):
        assert f"(docs/{page.name})" in readme, f"README does not link docs/{page.name}"


def test_domains_page_documents_every_structure() -> None:
    from matcalc.model.domains import MATRIX_STRUCTURES

    page = (DOCS / "domains.md").read_text()
    for name, guarantee in MATRIX_STRUCTURES.items():
        assert f'structure="{name}"' in page and guarantee in page, name


def test_claims_page_lists_every_function() -> None:
    from matcalc.claims.parse import FUNCTIONS

    page = (DOCS / "claims.md").read_text()
    for name in FUNCTIONS:
        assert f"`{name}" in page, f"docs/claims.md does not list the claim function {name}"


def test_catalog_guide_table_is_current() -> None:
    from matcalc.report.catalog_page import summary_table

    page = (DOCS / "catalog-guide.md").read_text()
    assert summary_table() in page, ("docs/catalog-guide.md's table is stale: paste "
                                     "matcalc.report.catalog_page.summary_table()")


def test_api_page_documents_the_public_names() -> None:
    import matcalc

    page = (DOCS / "api.md").read_text()
    for name in matcalc.__all__:
        assert f"::: matcalc.{name}\n" in page or name == "catalog", name
    assert "::: matcalc.catalog\n" in page and "::: matcalc.testing\n" in page


def test_api_page_extension_fences_doctests() -> None:
    # docs/griffe_doctests.py runs in the docs build (mkdocs.yml); it needs griffe, from the docs extra
    pytest.importorskip("griffe")
    import importlib.util

    spec = importlib.util.spec_from_file_location("griffe_doctests", DOCS / "griffe_doctests.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert doctest.testmod(module).failed == 0
