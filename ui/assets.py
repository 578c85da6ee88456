"""How the page looks: CSS, the theme, the chat's placeholder, and one small script.

The theme uses the system's fonts, so the page fetches nothing from the Internet.
"""

from __future__ import annotations

import gradio as gr

PLACEHOLDER = (
    "### Welcome to GenFlow\n"
    "Start a job: `/article The history of coffee`, `/image A lighthouse at dawn`, "
    "`/task Write a haiku about autumn`, or plain text for the mode you picked. "
    "`/help` lists every flow."
)
# Keeps the page's address pointing at its job, so a reload or a copied link reopens it.
SET_URL = """
(jobId) => {
  if (jobId) {
    const url = new URL(window.location.href);
    if (url.searchParams.get("job") !== jobId) {
      url.searchParams.set("job", jobId);
      window.history.replaceState(null, "", url);
    }
  }
  return [];
}
"""
CSS = """
/* No "clear" (the chat shows a job, not a draft) and no "share" under each message. */
#gf-chat > .wrapper > .top-panel, #gf-chat .message-buttons { display: none; }
.gf-status { padding: 6px 10px; border-radius: 8px; background: var(--block-background-fill); }
.gf-line { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }
.gf-link { margin-left: auto; font-size: 0.8em; opacity: 0.7; }
.gf-bar { height: 6px; border-radius: 3px; background: var(--border-color-primary);
          margin-top: 6px; overflow: hidden; }
.gf-bar > div { height: 100%; background: var(--color-accent); }
.gf-problem { color: var(--error-text-color); margin-top: 4px; }
.gf-jobs { display: flex; flex-direction: column; gap: 4px; max-height: 560px; overflow-y: auto; }
.gf-job { display: flex; flex-direction: column; align-items: flex-start; text-align: left;
          padding: 6px 8px; border-radius: 6px;
          text-decoration: none !important; color: inherit !important;
          border: 1px solid var(--border-color-primary); }
.gf-job:hover { background: var(--background-fill-secondary); }
.gf-current { border-color: var(--color-accent); }
.gf-job-text { font-size: 0.85em; opacity: 0.85; overflow-wrap: anywhere; }
.gf-job-meta { font-size: 0.75em; opacity: 0.6; }
.gf-job-due { font-size: 0.75em; font-weight: 600; color: var(--color-accent); }
/* Who is logged in, and Log out: a quiet line above the tabs, on the right. */
#gf-who { padding: 0; min-height: 0; }
.gf-who { text-align: right; font-size: 0.9em; opacity: 0.85; }
.gf-role { font-size: 0.85em; opacity: 0.7; }
"""


def theme() -> gr.themes.Base:
    """Gradio's default look with the system's fonts: nothing is fetched from the Internet."""
    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "Consolas", "monospace"],
    )
