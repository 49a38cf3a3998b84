"""XSS and remote-load payloads for the dashboard tests, in one place.

Every script payload tries to set ``window.__xss`` (or call ``alert``); every remote payload
points at the test's loopback "attacker" server (``{A}``), which records each request it gets.
The mail carries them in its HTML part, its text part, its subject, its sender's name, an
item's product name and an attachment's file name; people carry them in what they type (a
reviewer's comment and reject reason, a user name, a webhook's name, an adapter's note), and a
failed mail in its error message.
"""

from __future__ import annotations

MARKER = "__xss"
TEMPLATE_INJECTION = "{{7*7}} ${7*7} <%= 7*7 %> {% raw %}"

_HTML = [
    "<script>window.__xss=1;alert('script')</script>",
    "<img src=x onerror=\"window.__xss=1;alert('img')\">",
    '<svg onload="window.__xss=1;alert(\'svg\')"><circle r="1"/></svg>',
    "<iframe src=\"javascript:parent.__xss=1;alert('iframe')\"></iframe>",
    '<a id="xss-link" href="javascript:window.__xss=1;alert(\'link\')">click me</a>',
    "<body onload=\"window.__xss=1;alert('body')\">",
    "<style>@import url({A}/css);</style>",
    '<p style="background:url({A}/bg)">styled paragraph</p>',
    '<link rel="stylesheet" href="{A}/l">',
    '<img src="{A}/img">',
    '<meta http-equiv="refresh" content="0;url={A}/refresh">',
    '<object data="{A}/object"></object><embed src="{A}/embed">',
    '<form action="{A}/f" method="post"><input name="q" value="1"><button>go</button></form>',
    '<base href="{A}/base/"><img src="relative.png">',
    '"><script>window.__xss=1</script><x y="',
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__xss=1">',
    TEMPLATE_INJECTION,
]


def html_payloads(attacker: str) -> list[str]:
    """The HTML payloads with ``{A}`` replaced by the attacker's origin (``http://host:port``)."""
    return [p.replace("{A}", attacker) for p in _HTML]


# For unit tests of the sanitizer (nothing listens there).
HTML_PAYLOADS = html_payloads("http://127.0.0.1:9")


def subject(attacker: str) -> str:
    return (
        f"Offer <script>window.__xss=1</script> <img src={attacker}/subj onerror=alert(1)>"
        " {{7*7}}"
    )


def supplier_name() -> str:
    return "Evil <img src=x onerror=window.__xss=1> {{7*7}}"


def product_name() -> str:
    return "Box <svg onload=window.__xss=1> {{7*7}}"


def attachment_name() -> str:
    return "prices <img src=x onerror=window.__xss=1> {{7*7}}.txt"


def comment() -> str:
    return "checked <script>window.__xss=1</script> {{7*7}}"


def reject_reason() -> str:
    return "too dear <img src=x onerror=\"window.__xss=1;alert('reason')\"> {{7*7}}"


def user_name() -> str:
    return "eve<script>window.__xss=1</script>"


def webhook_name() -> str:
    return "erp <svg onload=window.__xss=1> {{7*7}}"


def adapter_name() -> str:
    return "evil <img src=x onerror=window.__xss=1> {{7*7}}"


def error_message() -> str:
    return "bad answer <script>window.__xss=1</script> {{7*7}}"


def typed() -> list[str]:
    """Every payload above that a page or a JSON answer may show (raw; it must appear escaped)."""
    return [attachment_name(), comment(), reject_reason(), webhook_name(), adapter_name(),
            error_message(), supplier_name(), product_name()]  # fmt: skip
