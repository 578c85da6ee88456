"""How the Sessions view looks (its CSS, added to the chat's) and the one script that keeps
the page's address pointing at its session, so a reload or a copied link reopens it."""

from __future__ import annotations

SET_SESSION_URL = """
(sessionId) => {
  if (sessionId) {
    const url = new URL(window.location.href);
    if (url.searchParams.get("session") !== sessionId) {
      url.searchParams.set("session", sessionId);
      window.history.replaceState(null, "", url);
    }
  }
  return [];
}
"""
SESSION_CSS = """
.gs-status { padding: 8px 12px; border-radius: 8px; background: var(--block-background-fill); }
.gs-stepper { display: flex; gap: 6px; list-style: none; padding: 0 !important;
              margin: 0 0 8px 0 !important; }
.gs-stepper li.gs-step { flex: 1; display: flex; align-items: center; gap: 6px; margin: 0;
          padding: 6px 8px; border-radius: 6px; border: 1px solid var(--border-color-primary);
          opacity: 0.6; }
.gs-stepper li.gs-done { opacity: 0.9; }
.gs-stepper li.gs-current { opacity: 1; font-weight: 600; border-color: var(--color-accent);
          background: var(--color-accent-soft); }
.gs-dot { display: inline-flex; align-items: center; justify-content: center; flex: none;
          width: 1.6em; height: 1.6em; border-radius: 50%; font-size: 0.8em;
          background: var(--border-color-primary); }
.gs-current .gs-dot { background: var(--color-accent); color: white; }
.gs-angle { opacity: 0.75; font-size: 0.9em; }
.gs-message { margin-top: 6px; font-size: 0.9em; opacity: 0.85; }
.gs-notice { margin-top: 6px; font-weight: 600; }
#gs-final { border: 1px solid var(--border-color-primary); border-radius: 8px;
            padding: 10px 20px 12px; }
#gs-live { border-left: 3px solid var(--color-accent); padding-left: 10px;
           max-height: 320px; overflow-y: auto; }
.gs-list { display: flex; flex-direction: column; gap: 4px; max-height: 420px; overflow-y: auto; }
.gs-item { display: flex; flex-direction: column; align-items: flex-start; text-align: left;
           padding: 6px 8px; border-radius: 6px; text-decoration: none !important;
           color: inherit !important; border: 1px solid var(--border-color-primary); }
.gs-item:hover { background: var(--background-fill-secondary); }
.gs-current-item { border-color: var(--color-accent); }
.gs-item-title { font-size: 0.9em; overflow-wrap: anywhere; }
"""
