"""The README is the user's path and short; the rest is in docs/ pages it links, whose links
all lead somewhere and whose measured tables are where the commands write them."""

import re

import pytest
from conftest import REPO, needs_board_tools, unix_repl
from report import doc_block

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
TOOLS = ("run", "device-test", "accuracy", "bench", "eval", "fuzz", "record")


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page):
    text = page.read_text()
    found = {slug(m) for m in re.findall(r"^#+ (.*)$", text, re.MULTILINE)}
    return found | set(re.findall(r'<a id="([^"]+)"', text))


def test_the_readme_is_the_short_path_with_both_commands():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for needed in (
        "make run",
        "make test",
        "make deploy PORT=",
        "make repl PORT=",
        "Decoder.load",
    ):
        assert needed in text, needed
    assert "OWNER/REPO" not in text
    assert "mpremote mip install github:<owner>/<repo>" in text
    assert "mpremote mip install ./package.json" in text
    assert "mpremote mip install ./dist/xtensawin/package.json" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_leads_somewhere(page):
    for target in LINK.findall(page.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), (page.name, target)
        if anchor and dest.suffix == ".md":
            assert anchor in anchors(dest), (page.name, target)


def test_the_measured_tables_are_in_their_pages():
    boards = REPO / "docs" / "boards.md"
    heap = doc_block.block(boards, "heap-table")
    for tool in TOOLS:
        assert "| `make %s` |" % tool in heap, tool
    table = doc_block.block(boards, "import-table")
    assert "| `import attention` |" in table and "| `decoder` |" in table
    # The README holds the rows of the whole package, the page every module's too.
    readme = doc_block.block(REPO / "README.md", "import-table")
    assert "| `import attention` |" in readme and "| `decoder` |" not in readme
    assert table.startswith(readme)


def test_a_block_is_replaced_between_its_lines(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("a\n<!-- made by make x: t -->\nold\n<!-- end of t -->\nb\n")
    assert doc_block.update(page, "t", "| new |\n")
    assert page.read_text() == "a\n<!-- made by make x: t -->\n| new |\n<!-- end of t -->\nb\n"
    assert doc_block.block(page, "t") == "| new |\n"
    assert not doc_block.update(page, "t", "| new |")
    with pytest.raises(ValueError):
        doc_block.update(page, "other", "x")


def repl_examples(page):
    """Each `>>> ` line of a page's python blocks, with the lines it shows after it."""
    examples = []
    for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith(">>> "):
                examples.append((line[4:], []))
            elif examples and line:
                examples[-1][1].append(line)
    return examples


def shown(expected, got):
    """Whether the lines a page shows are the REPL's (a line '...' stands for any lines)."""
    if "..." in expected:
        cut = expected.index("...")
        head, tail = expected[:cut], expected[cut + 1 :]
        return got[: len(head)] == head and (not tail or got[-len(tail) :] == tail)
    return got == expected


@needs_board_tools
def test_the_readme_repl_examples_print_what_it_shows():
    """Typed into the unix port's REPL one line at a time, as a user would at a board's."""
    examples = repl_examples(REPO / "README.md")
    assert len(examples) >= 15
    with unix_repl(str(REPO / "firmware")) as term:
        for line, expected in examples:
            got = term.type(line.encode() + b"\r").decode().split("\r\n")
            assert got[0] == line and got[-1] == ">>> ", got  # the echo, the next prompt
            assert shown(expected, [g.strip() for g in got[1:-1]]), (line, expected, got)
