"""What every page needs first: the workspace, and user text shown as written.

Text a user or a document wrote (names, titles, questions, tool descriptions, an LLM's answer, an
error quoting any of them) goes into a Markdown element only through `literal`: Markdown in it
would otherwise load remote images (`![](http://host/beacon)` pings that host from every viewer's
browser), make links, or render HTML. Charts have their own escape (widgets/charts.py).
Below every widget module, so that all of them can use it.
"""

from __future__ import annotations

import os
import re

import streamlit as st

from ragtune_core.store import Workspace

# Every ASCII punctuation character that can start or close Markdown syntax (images, links and
# autolinks, HTML and entities, emphasis, code, headings, lists, tables, LaTeX, Streamlit's
# :directives[...]); only , ; ? " ' % / are left as they are: none means anything on its own.
_MARKDOWN_SYNTAX = re.compile(r"""([!#$&()*+\-.:<=>@\[\\\]^_`{|}~])""")


# Streamlit's GitHub-flavoured Markdown links bare URLs and e-mail addresses found in the text
# itself, after escapes are resolved: an invisible word joiner where such a link would begin
# (http:// https:// www. and before @) leaves them unlinked.
_AUTOLINK_START = re.compile(r"(?i)https?(?=://)|\bwww(?=\.)|(?=@)")
WORD_JOINER = "\u2060"


def literal(text: object) -> str:
    """Markdown that shows `text` as written, line breaks included: each character that could be
    Markdown syntax is backslash-escaped (CommonMark's escapes) and bare URLs and addresses are kept
    from being linked, so no image, link, HTML, emphasis, heading, LaTeX or Streamlit directive
    (`:red[...]`) survives in it."""
    text = _AUTOLINK_START.sub(lambda match: match.group(0) + WORD_JOINER, str(text))
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "  \n".join(_MARKDOWN_SYNTAX.sub(r"\\\1", line) for line in lines)


@st.cache_resource
def _open_workspace(root: str | None) -> Workspace:
    return Workspace(root)


def workspace() -> Workspace:
    return _open_workspace(os.environ.get("RAGTUNE_WORKSPACE"))
