"""The README is the user's path and short; the rest is in docs/ pages it links, whose links
all lead somewhere and whose measured tables are where the commands write them."""

import re

import pytest
from conftest import REPO
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
