"""The page checks every HTML response in the test suite goes through (see tests/conftest.py).

A full page must parse without errors, have a non-empty <title>, no duplicate ids, and every
form must carry action and method; POST forms must carry the CSRF field (GET forms must not:
a token in a URL leaks through logs and Referer). Because the CSP allows no inline code,
scripts must be external files with the request's nonce, and no element may carry style=.
"""

from __future__ import annotations

from collections import Counter
from xml.etree.ElementTree import Element

import html5lib

NS = "{http://www.w3.org/1999/xhtml}"
CSRF_FIELD = "_csrf_token"


class PageProblem(AssertionError):
    pass


def _parse(text: str, fragment: bool) -> Element:
    parser = html5lib.HTMLParser(strict=False, namespaceHTMLElements=True)
    tree: Element = parser.parseFragment(text) if fragment else parser.parse(text)
    errors = [
        f"line {line}:{col} {code} {data}"
        for (line, col), code, data in parser.errors
        # html5lib reports the fragment's missing doctype; that is what a fragment is.
        if not (fragment and code == "expected-doctype-but-got-start-tag")
    ]
    if errors:
        raise PageProblem("HTML does not parse cleanly: " + "; ".join(errors[:5]))
    return tree


def check_html(text: str, *, fragment: bool = False, nonce: str | None = None) -> Element:
    tree = _parse(text, fragment)
    problems: list[str] = []
    if not fragment:
        title = tree.find(f".//{NS}head/{NS}title")
        if title is None or not "".join(title.itertext()).strip():
            problems.append("no <title>")
        html = tree if tree.tag == f"{NS}html" else tree.find(f".//{NS}html")
        if html is None or not html.get("lang"):
            problems.append("<html> has no lang")
    ids = Counter(el.get("id") for el in tree.iter() if el.get("id"))
    duplicates = [value for value, count in ids.items() if count > 1]
    if duplicates:
        problems.append(f"duplicate ids: {duplicates}")
    for form in tree.iter(f"{NS}form"):
        action, method = form.get("action"), (form.get("method") or "").lower()
        if not action:
            problems.append(f"form without action: {form.attrib}")
        if method not in ("get", "post"):
            problems.append(f"form without method get/post: {form.attrib}")
        fields = {el.get("name"): el.get("value") for el in form.iter(f"{NS}input")}
        if method == "post" and not fields.get(CSRF_FIELD):
            problems.append(f"POST form {action} has no CSRF field")
        if method == "get" and CSRF_FIELD in fields:
            problems.append(f"GET form {action} would leak the CSRF token into a URL")
    for script in tree.iter(f"{NS}script"):
        if not script.get("src"):
            problems.append("inline <script> (CSP allows none)")
        if nonce is not None and script.get("nonce") != nonce:
            problems.append(f"<script src={script.get('src')}> lacks the request's nonce")
    for el in tree.iter():
        if el.get("style") is not None:
            problems.append(f"style= attribute on <{el.tag.removeprefix(NS)}> (CSP allows none)")
        if el.tag == f"{NS}img" and el.get("alt") is None:
            problems.append(f"<img src={el.get('src')}> has no alt")
    if problems:
        raise PageProblem("; ".join(problems))
    return tree
