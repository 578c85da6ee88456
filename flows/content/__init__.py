"""The stage flows of a GenFlow session: topic, research, writing, styling, review.

Each model-backed session action runs one of these as a durable job (DESIGN §8); the
session service (backend) folds the job's `result` into the session's document. They are
plain PocketFlow flows like the seed flows, and check their model output the same way.
"""

STAGES = ("topic", "research", "writing", "styling", "review")
