"""The login page: one HTML document with its own style, nothing else to fetch (the door
lets nothing else through before a login), in Gradio's default colours."""

from __future__ import annotations

from html import escape

STYLE = """
:root { color-scheme: light dark; --accent: #f97316; --accent-hover: #ea580c;
        --bg: #f9fafb; --card: #fff; --text: #1f2937; --muted: #6b7280; --line: #e5e7eb;
        --error: #b91c1c; --error-bg: #fef2f2; --note-bg: #f0fdf4; --note: #15803d; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0b0f19; --card: #1f2937; --text: #f3f4f6; --muted: #9ca3af;
          --line: #374151; --error: #fca5a5; --error-bg: #451a1a; --note-bg: #052e16;
          --note: #86efac; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
       background: var(--bg); color: var(--text);
       font-family: ui-sans-serif, system-ui, sans-serif; }
main { width: min(420px, 92vw); background: var(--card); border: 1px solid var(--line);
       border-radius: 12px; padding: 28px 28px 22px; box-shadow: 0 1px 3px rgb(0 0 0 / 8%); }
h1 { margin: 0 0 4px; font-size: 1.5rem; }
.lead { margin: 0 0 18px; color: var(--muted); }
label { display: block; font-size: 0.9rem; font-weight: 600; margin: 14px 0 6px; }
input { width: 100%; padding: 10px 12px; font-size: 1rem; color: var(--text);
        background: var(--bg); border: 1px solid var(--line); border-radius: 8px; }
input:focus { outline: 2px solid var(--accent); outline-offset: -1px; }
button { width: 100%; margin-top: 20px; padding: 11px; font-size: 1rem; font-weight: 600;
         color: #fff; background: var(--accent); border: 0; border-radius: 8px; cursor: pointer; }
button:hover { background: var(--accent-hover); }
.problem, .notice { margin: 0 0 6px; padding: 10px 12px; border-radius: 8px; }
.problem { color: var(--error); background: var(--error-bg); }
.notice { color: var(--note); background: var(--note-bg); }
.hint { margin: 18px 0 0; font-size: 0.85rem; color: var(--muted); }
code { font-size: 0.9em; }
"""


def login_page(
    *,
    action: str = "login",
    username: str = "",
    problem: str | None = None,
    notice: str | None = None,
) -> str:
    """The page; `action` is where the form posts (it carries the link the person came by),
    `problem` why the last attempt was refused, `notice` anything else to say."""
    said = ""
    if problem:
        said += f'<p class="problem" role="alert" id="gf-login-problem">{escape(problem)}</p>'
    if notice:
        said += f'<p class="notice" role="status" id="gf-login-notice">{escape(notice)}</p>'
    focus_name = "" if username else " autofocus"
    focus_password = " autofocus" if username else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Log in · GenFlow</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>GenFlow</h1>
<p class="lead">Log in to start jobs, follow them and decide their reviews.</p>
{said}
<form method="post" action="{escape(action)}" id="gf-login">
<label for="gf-username">Username</label>
<input id="gf-username" name="username" autocomplete="username" required
       value="{escape(username)}"{focus_name}>
<label for="gf-password">Password</label>
<input id="gf-password" name="password" type="password" autocomplete="current-password"
       required{focus_password}>
<button type="submit">Log in</button>
</form>
<p class="hint">No account? Whoever runs GenFlow makes one:
<code>genflow user add NAME</code>. The first one, <code>admin</code>, is made by
<code>genflow up</code>, which prints its password.</p>
</main>
</body>
</html>
"""
