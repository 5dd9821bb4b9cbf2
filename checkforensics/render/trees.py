"""Trees of labels in rich markup: drawn by rich on a colour terminal, laid out here otherwise."""

from __future__ import annotations

import re
from typing import TextIO

from checkforensics.render.console import _emit, color_wanted
from checkforensics.render.escape import printable


class Tree:
    """A tree of labels in rich console markup, as the commands draw processes and metadata.
    Building one imports nothing: rich draws it on a colour terminal, ``plain_tree`` everywhere
    else (a pipe, a file, ``--no-color``), so a piped command never imports rich."""

    __slots__ = ("children", "expanded", "label")

    def __init__(self, label: str) -> None:
        self.label = label
        self.children: list[Tree] = []
        self.expanded = True

    def add(self, label: str) -> Tree:
        """A new child labelled ``label``, returned to add to."""
        child = Tree(label)
        self.children.append(child)
        return child




def _rich_tree(tree: Tree) -> object:
    """``tree`` as a rich Tree, every label through ``printable``: the commands escape what they
    put in labels (``tree_text``), and whatever a label still holds cannot reach the terminal raw."""
    from rich.tree import Tree as RichTree

    root = RichTree(printable(tree.label))
    stack = [(tree, root)]
    while stack:
        node, drawn = stack.pop()
        for child in node.children:
            stack.append((child, drawn.add(printable(child.label))))
    return root



RICH_TREE_NODES = 5000  # rich takes about 0.2 ms a node: a bigger tree is drawn plain, even on a terminal


def _write_tree(tree: Tree, stream: TextIO) -> None:
    """``tree`` drawn by rich on a colour terminal; otherwise (and when it has more than
    RICH_TREE_NODES nodes: a pstree may list 100,000 processes) laid out by ``plain_tree``."""
    if color_wanted(stream) and _tree_size(tree, RICH_TREE_NODES) <= RICH_TREE_NODES:
        _emit(_rich_tree(tree), stream)
        return
    stream.write(plain_tree(tree))


def _tree_size(tree: Tree, enough: int) -> int:
    """The number of nodes of ``tree``, counted up to just past ``enough``."""
    count, stack = 0, [tree]
    while stack and count <= enough:
        node = stack.pop()
        count += 1
        stack.extend(node.children)
    return count


_GUIDES = {True: ("└── ", "    "), False: ("├── ", "│   ")}  # rich's, for the last child and the others
_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # line ends str.splitlines knows, besides newlines
_MARKUP_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")  # rich.markup's RE_TAGS


def plain_tree(tree: Tree) -> str:
    """The lines rich draws for ``tree`` without colour, every label through ``printable``, laid
    out here with a stack: the same guides, no wrapping, no trailing blanks."""
    out = []
    guides: dict[tuple[str, bool], tuple[str, str]] = {}  # siblings share their guide strings
    stack = [(tree, "", "")]  # a node, the guides before its first line, before its others and its children's
    while stack:
        node, first, rest = stack.pop()
        text = _markup_plain(printable(node.label))
        for number, line in enumerate(text.split("\n")):
            out.append((first if number == 0 else rest) + line)
        if node.expanded and node.children:
            children = node.children
            last = len(children) - 1
            for index in range(last, -1, -1):
                key = (rest, index == last)
                if key not in guides:
                    fork, guide = _GUIDES[index == last]
                    guides[key] = (rest + fork, rest + guide)
                stack.append((children[index], *guides[key]))
    text = "\n".join(out)
    if _LINE_BREAKS.search(text):  # as _emit splits them: at every line boundary str.splitlines knows
        return "".join(line.rstrip() + "\n" for line in text.splitlines())
    return "".join(line.rstrip() + "\n" for line in out)


def _markup_plain(markup: str) -> str:
    """The text of rich console markup: tags dropped, escaped brackets (``\\[``) kept, as
    ``rich.markup.render(markup).plain`` gives it, at a fraction of the cost."""
    if "[" not in markup:
        return markup
    parts = []
    position = 0
    for match in _MARKUP_TAG.finditer(markup):
        full, escapes, _ = match.groups()
        start, end = match.span()
        if start > position:
            parts.append(markup[position:start].replace("\\[", "["))
        if escapes:
            backslashes, escaped = divmod(len(escapes), 2)
            parts.append("\\" * backslashes)
            if escaped:
                parts.append(full[len(escapes) :])
        position = end
    parts.append(markup[position:].replace("\\[", "["))
    return "".join(parts)

