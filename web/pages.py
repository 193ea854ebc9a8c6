"""The small HTML pages members see in a browser: one plain, mobile-friendly template, no external assets.

    render_page("Spotify is linked!", paragraph("You can close this tab."), tone="ok")

Every argument that is text is escaped here; only `body_html` is trusted (build it with these helpers).
"""

from __future__ import annotations

from html import escape
from typing import Literal

Tone = Literal["ok", "error", "info"]

_ICONS = {"ok": "&#10004;", "error": "&#9888;", "info": "&#9835;"}  # check mark, warning sign, musical note

# Inline on purpose: the pages load nothing from elsewhere, so they work behind any proxy and need no CDN.
STYLE = """
:root { color-scheme: light dark; --accent: #1db954; --bad: #d9534f; --muted: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0; font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       background: #f4f5f7; color: #1f2328; display: flex; min-height: 100vh; align-items: center;
       justify-content: center; padding: 16px; }
main { background: #fff; max-width: 34rem; width: 100%; border-radius: 14px; padding: 28px 24px;
       box-shadow: 0 2px 14px rgba(0,0,0,.08); }
.icon { font-size: 2.2rem; line-height: 1; }
.ok .icon { color: var(--accent); } .error .icon { color: var(--bad); } .info .icon { color: var(--muted); }
h1 { font-size: 1.45rem; margin: .4rem 0 .8rem; }
p { margin: 0 0 .9rem; }
.next { background: #f0f7f2; border-radius: 10px; padding: 12px 14px; }
.error .next { background: #fbf0ef; }
.muted, footer { color: var(--muted); font-size: .9rem; }
footer { margin-top: 1.4rem; }
table { border-collapse: collapse; width: 100%; margin: 0 0 1rem; }
td, th { text-align: left; padding: 6px 4px; border-bottom: 1px solid #e5e7eb; }
form { margin: 0 0 1rem; }
input[type=file] { width: 100%; margin: .5rem 0 1rem; }
button { background: var(--accent); color: #fff; border: 0; border-radius: 999px; padding: 10px 22px;
         font-size: 1rem; cursor: pointer; }
@media (prefers-color-scheme: dark) {
  body { background: #121212; color: #e8e8e8; } main { background: #1e1e1e; box-shadow: none; }
  .next { background: #183322; } .error .next { background: #3a1f1d; } td, th { border-color: #333; }
}
"""


def paragraph(text: str, css_class: str | None = None) -> str:
    """One escaped paragraph."""
    attr = f' class="{escape(css_class)}"' if css_class else ""
    return f"<p{attr}>{escape(text)}</p>"


def render_page(title: str, body_html: str, *, tone: Tone = "info", footer: str = "Spotify recommendations bot") -> str:
    """A whole HTML document around trusted `body_html`; `title` and `footer` are escaped."""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main class=\"{tone}\"><div class=\"icon\" aria-hidden=\"true\">{_ICONS[tone]}</div>"
        f"<h1>{escape(title)}</h1>{body_html}<footer>{escape(footer)}</footer></main></body></html>\n"
    )


def message_page(title: str, message: str, next_step: str | None = None, *, tone: Tone = "info") -> str:
    """The common page: a title, what happened, and (optionally) what to do next, all escaped."""
    body = paragraph(message)
    if next_step:
        body += paragraph(next_step, "next")
    return render_page(title, body, tone=tone)
