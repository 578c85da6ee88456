"""How the Workflows view looks (its CSS, added to the chat's) and the one script that keeps
the page's address pointing at its workflow, so a reload or a copied link reopens it."""

from __future__ import annotations

SET_WORKFLOW_URL = """
(workflowId) => {
  const url = new URL(window.location.href);
  if ((url.searchParams.get("workflow") || "") !== (workflowId || "")) {
    if (workflowId) {
      url.searchParams.set("workflow", workflowId);
    } else {
      url.searchParams.delete("workflow");  // a template's spec, not stored yet
    }
    window.history.replaceState(null, "", url);
  }
  return [];
}
"""
WORKFLOW_CSS = """
#gw-run-chat > .wrapper > .top-panel, #gw-run-chat .message-buttons { display: none; }
.gw-status { padding: 6px 10px; border-radius: 8px; background: var(--block-background-fill); }
.gw-status.gw-quiet { display: none; }
.gw-status[data-state="drafting"] { font-weight: 600; border-left: 3px solid var(--color-accent); }
.gw-spinner { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 8px;
              vertical-align: -0.1em; border-radius: 50%;
              border: 2px solid var(--border-color-primary);
              border-top-color: var(--color-accent); animation: gw-spin 0.8s linear infinite; }
@keyframes gw-spin { to { transform: rotate(360deg); } }
#gw-diagram { border: 1px solid var(--border-color-primary); border-radius: 8px;
              padding: 8px; overflow-x: auto; }
#gw-diagram svg { max-width: 100%; height: auto; }
#gw-errors { border-left: 3px solid var(--error-text-color); padding-left: 10px; }
#gw-run-problem { color: var(--error-text-color); }
"""
