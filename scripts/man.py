#!/usr/bin/env python3
"""Generate herd's man pages from its docs: docs/TOOL.md -> man/man8/TOOL.8 (man(7) macros).

    scripts/man.py           regenerate man/man8/ (`just man`)
    scripts/man.py --check   exit 1, naming each stale page, when man/man8/ is not what the docs
                             give (a doc without the agreed sections: 111; usage: 100)

The docs are the one source; the pages are generated and checked in, never edited by hand. Only
the markdown the docs use is handled: headings, paragraphs, nested bullet and numbered lists,
tables, fenced code blocks, inline code, bold, italics and links. A tool page must have the
sections of the agreed doc shape (Interface, Options, Environment, Signals, Files, Exit codes,
Examples, See also); anything else at level 2 goes to DESCRIPTION. Standard library only.

Tables become tagged paragraphs (.TP), not tbl(1): their cells hold sentences, which tbl squeezes
into narrow columns at 80 columns, while a tag over an indented paragraph keeps every line full
width (and is how runit's and s6's own pages list options).

Each page's .TH date is the day its text last changed: regenerating an unchanged page keeps its
date, and --check ignores the date.
"""

import datetime
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The tools, in SEE ALSO order, with the one-line summary of NAME (whatis). The summary lives
# here rather than in the doc: a whatis line is a few words, a doc opens with a paragraph. The
# names each tool answers to (the first is the page's own, the rest are link pages) are herd's
# dispatch table's, read from bin/herd/src/tool.rs.
SUMMARIES = {
    "svscan": "run a supervise for every service of a directory; a container's PID 1",
    "supervise": "run and restart one service and its logger",
    "sv": "control and report on supervised services",
    "svlog": "write log lines to rotated, timestamped log directories",
    "chpst": "run a program with a changed process state",
    "herd": "every herd tool in one executable",
}
TOOL_RS = os.path.join(ROOT, "bin", "herd", "src", "tool.rs")
NAME_ROW = re.compile(r'^\s*\("([^"]+)", Tool::(\w+)\),\s*$')


def tool_names():
    """{page: [names]} from herd's dispatch table (`("runsv", Tool::Supervise),` rows), in its
    order; `herd` answers to its own name."""
    names = {page: [] for page in SUMMARIES}
    names["herd"] = ["herd"]
    with open(TOOL_RS, encoding="utf-8") as f:
        for line in f:
            m = NAME_ROW.match(line)
            if m:
                names[m.group(2).lower()].append(m.group(1))
    return names


TOOLS = {page: (names, SUMMARIES[page]) for page, names in tool_names().items()}


# Doc section (## heading) -> man section, in the order the page prints them. DESCRIPTION,
# SYNOPSIS and NAME come first and are made from the title, the intro, Interface and the other
# sections.
SECTIONS = [
    ("Options", "OPTIONS", True),
    ("Environment", "ENVIRONMENT", True),
    ("Signals", "SIGNALS", False),
    ("Files", "FILES", True),
    ("Exit codes", "EXIT STATUS", True),
    ("Examples", "EXAMPLES", True),
    ("Notes", "NOTES", False),
    ("See also", "SEE ALSO", True),
]
MAPPED = {doc for doc, _, _ in SECTIONS} | {"Interface"}


class DocError(Exception):
    """A doc that does not have the agreed shape: `docs/sv.md: no ## Examples section`."""


# ---------------------------------------------------------------------------------------------
# Markdown blocks

FENCE = re.compile(r"^(\s*)```")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")


def indent_of(line):
    return len(line) - len(line.lstrip(" "))


def parse_blocks(lines):
    """Lines of markdown -> [("heading", level, text) | ("para", text) | ("code", [lines])
    | ("table", [rows of cells]) | ("list", ordered, [(marker, [blocks])])]."""
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = FENCE.match(line)
        if m:
            pad = len(m.group(1))
            i += 1
            code = []
            while i < len(lines) and not FENCE.match(lines[i]):
                code.append(lines[i][min(pad, indent_of(lines[i])) :])
                i += 1
            i += 1  # the closing fence
            blocks.append(("code", code))
            continue
        m = HEADING.match(line)
        if m:
            blocks.append(("heading", len(m.group(1)), m.group(2)))
            i += 1
            continue
        if line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(split_row(lines[i]))
                i += 1
            # The second row is the header's underline.
            if len(rows) >= 2 and all(re.fullmatch(r":?-+:?", c.strip()) for c in rows[1]):
                del rows[1]
            blocks.append(("table", rows))
            continue
        m = ITEM.match(line)
        if m and indent_of(line) == 0:
            i = parse_list(lines, i, blocks)
            continue
        para = [line.strip()]
        i += 1
        while i < len(lines) and lines[i].strip() and not starts_block(lines[i]):
            para.append(lines[i].strip())
            i += 1
        blocks.append(("para", " ".join(para)))
    return blocks


def starts_block(line):
    return bool(
        FENCE.match(line)
        or HEADING.match(line)
        or line.lstrip().startswith("|")
        or (ITEM.match(line) and indent_of(line) == 0)
    )


def parse_list(lines, i, blocks):
    """A list starting at lines[i] (marker at column 0): its items, each parsed as blocks of its
    own from its lines with the item's indentation removed. Returns the index after the list."""
    ordered = ITEM.match(lines[i]).group(2)[0].isdigit()
    items = []
    while i < len(lines):
        m = ITEM.match(lines[i])
        if not m or indent_of(lines[i]) != 0 or m.group(2)[0].isdigit() != ordered:
            break
        marker = m.group(2)
        width = len(lines[i]) - len(m.group(3))
        body = [m.group(3)]
        i += 1
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                # A blank line continues the item only if indented text follows.
                j = i
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j < len(lines) and indent_of(lines[j]) > 0:
                    body.extend([""] * (j - i))
                    i = j
                    continue
                break
            if indent_of(line) == 0:
                if ITEM.match(line) or starts_block(line):
                    break
                body.append(line)  # a lazy continuation line
            else:
                body.append(line[min(width, indent_of(line)) :])
            i += 1
        items.append((marker, parse_blocks(body)))
        # Blank lines between items of one list.
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and ITEM.match(lines[j]) and indent_of(lines[j]) == 0:
            i = j
    blocks.append(("list", ordered, items))
    return i


def split_row(line):
    """`| a | b\\|c |` -> ["a", "b|c"]: cells split at unescaped bars."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells = re.split(r"(?<!\\)\|", s)
    return [c.strip().replace("\\|", "|") for c in cells]


# ---------------------------------------------------------------------------------------------
# Inline markdown -> roff text

INLINE = re.compile(
    r"(?P<code>`+)(?P<codetext>.+?)(?P=code)"
    r"|\[(?P<ltext>(?:`[^`]*`|[^\]])+)\]\((?P<url>[^)\s]+)\)"
    r"|(?P<bold>\*\*)"
    r"|(?P<ital>(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*]))"
    r"|\\(?P<esc>[\\`*_\[\]()#+\-.!|<>{}])"
)

FONTS = {(False, False): "R", (True, False): "B", (False, True): "I", (True, True): "(BI"}


def escape(text, code=False):
    """Plain text -> roff: backslash, minus signs (every `-` in code; a `-` that starts an option
    or number in prose), and non-ASCII as \\[uXXXX]."""
    out = []
    for k, ch in enumerate(text):
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            prev = text[k - 1] if k else " "
            nxt = text[k + 1] if k + 1 < len(text) else " "
            if code or (not prev.isalnum() and (nxt.isalnum() or nxt in "-")):
                out.append("\\-")
            else:
                out.append("-")
        elif ord(ch) > 127:
            out.append("\\[u%04X]" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def link_target(url):
    """A link's destination as a man page shows it: (kind, shown text)."""
    if re.match(r"[a-z]+:", url):
        return "url", url
    page = url.split("#", 1)[0]
    if not page:
        return "anchor", ""
    name = os.path.basename(page)
    if name.endswith(".md") and name[:-3] in TOOLS:
        return "man", name[:-3]
    return "doc", "docs/" + name


def inline(text, bold=False, ital=False):
    """Markdown inline text -> roff, with explicit font changes (\\fB, \\fI, \\f(BI, \\fR); ends
    in the font it started with."""
    out = []
    state = [bold, ital]
    start = (bold, ital)

    def font(b, i):
        if (b, i) != tuple(state):
            out.append("\\f" + FONTS[(b, i)])
            state[0], state[1] = b, i

    pos = 0
    for m in INLINE.finditer(text):
        out.append(escape(text[pos : m.start()]))
        pos = m.end()
        if m.group("code"):
            b, i = state
            font(True, i)
            code = m.group("codetext")
            out.append(escape(code.strip() if m.group("code") == "``" else code, code=True))
            font(b, i)
        elif m.group("url") is not None:
            kind, shown = link_target(m.group("url"))
            label = m.group("ltext")
            plain = re.sub(r"[`*]", "", label)
            b, i = state
            if kind == "anchor":
                out.append("\\(lq" + inline(label, b, i) + "\\(rq")
            elif kind == "man":
                if plain in (shown, shown + ".md", shown + "(8)", "docs/" + shown + ".md"):
                    font(True, i)
                    out.append(escape(shown, code=True))
                    font(b, i)
                    out.append("(8)")
                else:
                    out.append(inline(label, b, i) + " (")
                    font(True, i)
                    out.append(escape(shown, code=True))
                    font(b, i)
                    out.append("(8))")
            elif kind == "doc":
                if plain in (shown, os.path.basename(shown)):
                    out.append(escape(shown, code=True))
                else:
                    out.append(inline(label, b, i) + " (" + escape(shown, code=True) + ")")
            else:
                if plain == shown:
                    out.append("<" + escape(shown, code=True) + ">")
                else:
                    out.append(inline(label, b, i) + " <" + escape(shown, code=True) + ">")
        elif m.group("bold"):
            font(not state[0], state[1])
        elif m.group("ital"):
            font(state[0], not state[1])
        else:
            out.append(escape(m.group("esc")))
    out.append(escape(text[pos:]))
    font(*start)
    return "".join(out)


SENTENCE_END = re.compile(r"[.!?][)\"'\]]*(?:\\f[RBIP]|\\f\(BI)?$")


def wrap(text, width=80):
    """Split roff text at single spaces into lines of about `width` columns."""
    lines, cur = [], ""
    for w in re.split(r"(?<! ) (?! )", text.strip()):
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = cur + " " + w if cur else w
    if cur:
        lines.append(cur)
    return [("\\&" + l if l[:1] in ".'" else l) for l in lines]


def one_line(roff):
    """Roff text that must stay one output line (a .TP tag) as several source lines joined by
    \\c, so that no source line is much longer than 80 columns."""
    lines = wrap(roff, 77)
    return [l + " \\c" for l in lines[:-1]] + lines[-1:]


def fill(roff):
    """One paragraph of roff text -> source lines: a new line for each sentence, each wrapped at
    about 80 columns at single spaces. A line that ends in a full stop that does not end a
    sentence gets \\& so that troff does not put a sentence space after it; a line that would
    start with `.` or `'` gets \\& in front so that it is not a request."""
    sentences = re.split(r"(?<=[.!?])((?:\\f[RBIP])?) (?=[A-Z(\\])", roff)
    # re.split keeps the captured font change: glue it back to the sentence before it. A list
    # number (`1.` in a table cell) ends no sentence.
    merged = []
    for k, part in enumerate(sentences):
        if k % 2 == 1:
            merged[-1] += part
        elif merged and re.fullmatch(r"\d+[.)]", merged[-1].strip()):
            merged[-1] += " " + part
        else:
            merged.append(part)
    lines = []
    for sentence in merged:
        wrapped = wrap(sentence, 78)  # room for a \\& at the end
        for k, line in enumerate(wrapped):
            if k < len(wrapped) - 1 and SENTENCE_END.search(line):
                line += "\\&"
            lines.append(line)
    return lines


# ---------------------------------------------------------------------------------------------
# Blocks -> roff


def quote_arg(text):
    return '"' + text.replace('"', "\\(dq") + '"'


def render(blocks, out, in_item=False):
    """Append the roff of `blocks` to `out`. Inside a list item the first paragraph follows the
    item's .IP and later ones get an empty .IP, so they keep the item's indentation."""
    first = True
    for block in blocks:
        kind = block[0]
        if kind == "heading":
            out.append(".SS " + quote_arg(inline(block[2])))
        elif kind == "para":
            if not (in_item and first):
                out.append(".IP" if in_item else ".PP")
            out.extend(fill(inline(block[1])))
        elif kind == "code":
            # At the top level a code block is indented by 4; in a list item it sits at the
            # item's indentation (an item always starts with a paragraph, so this is not first).
            out.append(".IP" if in_item else ".PP")
            if not in_item:
                out.append(".RS 4")
            out.append(".EX")
            for line in block[1]:
                text = escape(line, code=True)
                out.append("\\&" + text if text[:1] in ".'" else text)
            out.append(".EE")
            if not in_item:
                out.append(".RE")
        elif kind == "table":
            render_table(block[1], out)
        elif kind == "list":
            if in_item:
                out.append(".RS")
            render_list(block[1], block[2], out)
            if in_item:
                out.append(".RE")
        first = False


def render_list(ordered, items, out):
    width = max(len(m) for m, _ in items) + 2 if ordered else 2
    for marker, body in items:
        tag = marker if ordered else "\\(bu"
        out.append(".IP %s %d" % (tag, width))
        if not body or body[0][0] != "para":
            body = [("para", "")] + body if body else [("para", "")]
        render(body, out, in_item=True)


def render_table(rows, out):
    """A table as tagged paragraphs: the first cell is the tag; with two columns the second cell
    is the paragraph, with more each further non-empty cell is a line `header: cell`. A row whose
    other cells are empty is a plain paragraph (a table's sub-heading)."""
    header, body = rows[0], rows[1:]
    for row in body:
        row = row + [""] * (len(header) - len(row))
        rest = [(h, c) for h, c in zip(header[1:], row[1:]) if c]
        if not rest:
            out.append(".PP")
            out.extend(fill(inline(row[0])))
            continue
        out.append(".TP")
        out.extend(one_line(inline(row[0])))
        for k, (h, c) in enumerate(rest):
            if len(header) == 2:
                out.extend(fill(inline(c)))
            else:
                if k:
                    out.append(".br")
                out.extend(fill("\\fI" + inline(h) + ":\\fR " + inline(c)))


# ---------------------------------------------------------------------------------------------
# A tool's doc -> its page


def split_sections(doc, blocks):
    """Blocks -> (title, intro blocks, [(section title, blocks)]) at level-2 headings."""
    if not blocks or blocks[0][:2] != ("heading", 1):
        raise DocError("%s: does not start with a # title" % doc)
    title = blocks[0][2]
    intro, sections = [], []
    for block in blocks[1:]:
        if block[0] == "heading" and block[1] == 1:
            raise DocError("%s: a second # title" % doc)
        if block[0] == "heading" and block[1] == 2:
            sections.append((block[2], []))
        elif sections:
            sections[-1][1].append(block)
        else:
            intro.append(block)
    return title, intro, sections


def keep_groups(roff):
    """Spaces inside [...] become unbreakable (\\~), so that `[-f n]` is never split."""
    out, depth = [], 0
    for ch in roff:
        depth += {"[": 1, "]": -1}.get(ch, 0)
        out.append("\\~" if ch == " " and depth > 0 else ch)
    return "".join(out)


def synopsis(doc, interface):
    """The first fenced block of Interface, one .SY per command line."""
    for k, block in enumerate(interface):
        if block[0] == "code":
            out = []
            for line in block[1]:
                if not line.strip():
                    continue
                name, _, rest = line.strip().partition(" ")
                out.append(".SY " + escape(name, code=True))
                if rest.strip():
                    out.extend(wrap(keep_groups(escape(rest.strip(), code=True))))
                out.append(".YS")
            return out, interface[:k] + interface[k + 1 :]
    raise DocError("%s: ## Interface has no fenced synopsis block" % doc)


def page_text(tool, date, version):
    """The roff of man/man8/TOOL.8 for docs/TOOL.md."""
    doc = "docs/%s.md" % tool
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        blocks = parse_blocks(f.read().splitlines())
    title, intro, sections = split_sections(doc, blocks)
    if title != tool:
        raise DocError("%s: the title is %r, not %r" % (doc, title, tool))
    by_title = {}
    for name, body in sections:
        if name in by_title:
            raise DocError("%s: two ## %s sections" % (doc, name))
        by_title[name] = body
    for name, _, required in SECTIONS + [("Interface", "", True)]:
        if required and name not in by_title:
            raise DocError("%s: no ## %s section" % (doc, name))

    names, summary = TOOLS[tool]
    out = [
        '.\\" Generated from %s by scripts/man.py: do not edit.' % doc,
        '.\\" Edit the doc, then run `just man` (scripts/man.py).',
        ".TH %s 8 %s %s %s"
        % (tool.upper(), date, quote_arg("herd " + version), quote_arg("herd manual")),
        # Ragged right, no hyphenation: the text is full of names and paths, which a hyphen
        # would change and a justified line would space out. (groff's man macros turn
        # hyphenation back on at each paragraph unless the HY register is 0.)
        ".nr HY 0",
        ".ad l",
        ".nh",
        ".SH NAME",
    ]
    out.extend(wrap(escape(", ".join(names), code=True) + " \\- " + escape(summary)))
    out.append(".SH SYNOPSIS")
    syn, interface = synopsis(doc, by_title["Interface"])
    out.extend(syn)
    out.append(".SH DESCRIPTION")
    render(intro, out)
    render(interface, out)
    for name, body in sections:
        if name not in MAPPED:
            out.append(".SS " + quote_arg(inline(name)))
            render(body, out)
    for name, section, _ in SECTIONS:
        if name in by_title:
            out.append(".SH " + quote_arg(section) if " " in section else ".SH " + section)
            render(by_title[name], out)
    # .PP right after .SH/.SS is redundant (mandoc warns about it).
    cleaned = []
    for line in out:
        if line == ".PP" and cleaned and cleaned[-1].startswith((".SH", ".SS", ".PP")):
            continue
        cleaned.append(line)
    return "\n".join(cleaned) + "\n"


def link_text(alias, tool):
    return (
        '.\\" Generated by scripts/man.py: do not edit. %s is %s.\n.so man8/%s.8\n'
        % (alias, tool, tool)
    )


def version():
    with open(os.path.join(ROOT, "Cargo.toml"), encoding="utf-8") as f:
        m = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M)
    if not m:
        raise DocError("Cargo.toml: no version")
    return m.group(1)


TH_DATE = re.compile(r"^(\.TH \S+ 8 )(\S+)", re.M)


def existing(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def pages():
    """Every page man/man8/ should hold: (relative path, text given its current date)."""
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    ver = version()
    result = []
    for tool, (names, _) in TOOLS.items():
        rel = "man/man8/%s.8" % tool
        old = existing(os.path.join(ROOT, rel))
        m = TH_DATE.search(old) if old else None
        text = page_text(tool, m.group(2) if m else today, ver)
        if text != old:
            text = page_text(tool, today, ver)
        result.append((rel, text, "docs/%s.md" % tool))
        for alias in names[1:]:
            result.append(("man/man8/%s.8" % alias, link_text(alias, tool), "docs/%s.md" % tool))
    return result


def main(argv):
    check = False
    for arg in argv[1:]:
        if arg == "--check":
            check = True
        else:
            print("usage: scripts/man.py [--check]", file=sys.stderr)
            return 100
    try:
        wanted = pages()
    except DocError as e:
        print("man.py: fatal: %s" % e, file=sys.stderr)
        return 111
    mandir = os.path.join(ROOT, "man", "man8")
    stale = []
    for rel, text, doc in wanted:
        old = existing(os.path.join(ROOT, rel))
        if old is None or TH_DATE.sub(r"\1", old) != TH_DATE.sub(r"\1", text):
            stale.append((rel, doc, old is None))
    known = {os.path.basename(rel) for rel, _, _ in wanted}
    present = os.listdir(mandir) if os.path.isdir(mandir) else []
    extra = sorted(n for n in present if n not in known)
    if check:
        for rel, doc, missing in stale:
            what = "is missing" if missing else "is not what %s gives" % doc
            print("man.py: %s %s: run 'just man'" % (rel, what), file=sys.stderr)
        for name in extra:
            print(
                "man.py: man/man8/%s is not generated from any doc: remove it" % name,
                file=sys.stderr,
            )
        return 1 if stale or extra else 0
    os.makedirs(mandir, exist_ok=True)
    for rel, text, _ in wanted:
        path = os.path.join(ROOT, rel)
        if existing(path) != text:
            with open(path + ".new", "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(path + ".new", path)
    for name in extra:
        os.remove(os.path.join(mandir, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
