"""Knowledge bases: a person's uploaded text, chunked and searchable by `knowledge` nodes.

`model` is what the store keeps, `chunks` cuts a document into searchable pieces,
`uploads` decides what counts as a text document, `service` is what the API calls, and
`search` is the runner's owner-scoped searcher behind `flows.pilot.knowledge.searcher`.
"""
