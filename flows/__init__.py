"""GenFlow's flows: plain PocketFlow graphs plus provider-neutral utilities.

Nothing in this package knows how it is served: no Quart, Gradio or Slack imports.
"""
