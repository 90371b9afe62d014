"""When a board's friendly REPL asks for more input, and how far it indents the next line.

The rules of MicroPython's py/repl.c (mp_repl_continue_with_input) and
shared/readline/readline.c (auto-indent), on the bytes typed so far: lines joined by
b"\\n", without the prompts.
"""

COMPOUND_KEYWORDS = (b"if", b"while", b"for", b"try", b"with", b"def", b"class", b"async")
INDENT = b"    "


def _is_ident(c):
    return c == ord("_") or (c < 128 and chr(c).isalnum())


def _starts_with_word(src, word):
    return src.startswith(word) and (len(src) == len(word) or not _is_ident(src[len(word)]))


def _open_quote_and_brackets(src):
    """The quote still open at the end (b"", b"'", b"'''", ...) and the depth of (, [ and {."""
    quote, depth, i = b"", [0, 0, 0], 0
    while i < len(src):
        c = src[i : i + 1]
        if c in (b"'", b'"'):
            triple = c * 3
            if quote in (b"", triple) and src[i : i + 3] == triple:
                quote = triple if quote == b"" else b""
                i += 2
            elif quote in (b"", c):
                quote = c if quote == b"" else b""
        elif c == b"\\" and src[i + 1 : i + 2] in (b"'", b'"', b"\\"):
            if quote:
                i += 1
        elif not quote:
            for k, pair in enumerate((b"()", b"[]", b"{}")):
                depth[k] += (c == pair[:1]) - (c == pair[1:])
        i += 1
    return quote, depth


def continue_with_input(src):
    """True while the input is incomplete: the REPL then prints "... " for one more line.

    That is: an unterminated triple-quoted string, an open bracket (outside a
    one-line string), a trailing backslash, or a statement starting with a compound
    keyword (or a decorator) whose last line is not empty yet.
    """
    if not src:
        return False
    quote, depth = _open_quote_and_brackets(src)
    if len(quote) == 3:
        return True
    if max(depth) > 0 and not quote:
        return True
    if src.endswith(b"\\"):
        return True
    compound = src.startswith(b"@") or any(_starts_with_word(src, w) for w in COMPOUND_KEYWORDS)
    return compound and not src.endswith(b"\n")


def auto_indent(src):
    """Spaces the REPL types for the user on a new line, src ending in that line's b"\\n".

    The previous line's indent in whole steps of four, one step more after a colon;
    nothing after two lines of spaces only (so a third Enter ends a block).
    """
    if len(src) <= 1 or not src.endswith(b"\n"):
        return b""
    start = src.rfind(b"\n", 0, len(src) - 1) + 1  # start of the previous line
    indent = len(src) - 1 - start - len(src[start:-1].lstrip(b" "))
    if start > 0 and start + indent + 1 == len(src):  # the previous line is all spaces
        before = src.rfind(b"\n", 0, start - 1) + 1
        if before > 0 and not src[before : start - 1].strip(b" "):
            return b""
    return INDENT * (indent // 4 + (src[-2:-1] == b":"))


def backspace_width(line):
    """Characters one backspace removes from the end of the current line: four in an indent."""
    if len(line) >= 4 and not line.strip(b" "):
        return 4
    return 1 if line else 0
