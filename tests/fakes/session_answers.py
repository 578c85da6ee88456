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
