"""GenFlow sessions (DESIGN §8): staged content production over REST and a WebSocket."""
