"""What a model answers to the session stage flows' prompts, for scripted tests."""

from __future__ import annotations

from tests.harness import OUTLINE

TOPICS = {
    "topics": [
        {
            "title": "Why coffee houses mattered",
            "angle": "Where news was made.",
            "keywords": ["cafe"],
        },
        {"title": "The long road to espresso", "angle": "From pot to pump.", "keywords": []},
    ]
}
NOTES = {
    "keyPoints": [
        "Coffee was first brewed in Yemen.",
        "Coffeehouses spread news in London.",
        "Espresso machines came from Italy.",
    ],
    "questions": [{"question": "Where did coffee start?", "answer": "In Ethiopia."}],
    "suggestedOutline": OUTLINE["sections"],
}
REVIEW = {
    "scores": {"clarity": 8, "accuracy": 6, "engagement": 7},
    "summary": "A lively history that needs sources.",
    "suggestions": ["Name a source for the Kaldi legend in the first section."],
}
IDEAS = {"suggestions": ["Coffee and empire", "A bean's journey", "Brewing revolutions"]}

# The fake model's rules for the session stage prompts (`match` is part of the prompt), as
# test_cli.py scripts them; a test puts them after its outline/section/style rules, since
# a section's prompt may quote the research notes.
SESSION_RULES = [
    {"answer": TOPICS, "match": "Suggest 2"},
    {"answer": NOTES, "match": "research notes"},
    {"answer": REVIEW, "match": "Review this article"},
    {"answer": IDEAS, "match": "Give 3 different"},
]

# Five topics: what a session's "Discover topics" (no count: the default, 5) gets.
FIVE_TOPICS = {
    "topics": [
        *TOPICS["topics"],
        {"title": "Coffee and the clock", "angle": "How a drink set the workday.", "keywords": []},
        {"title": "The bean belt", "angle": "Where coffee grows, and why.", "keywords": []},
        {"title": "Decaf, explained", "angle": "Taking the kick out.", "keywords": ["decaf"]},
    ]
}
