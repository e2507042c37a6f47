"""The analyst console's service layer (issue 4), free of GraphQL.

GraphQL resolvers in `hq/api/console_*.py` stay thin; what they ask — who may see what
(`visibility`), hit/no-hit search (`lookup`), qualification hints (`hints`), statistics
(`stats`), the review queue (`review`), list filters (`mec_query`) and the analyst's
decisions (`actions`) — lives here so benchmarks and the CLI can call it directly.
"""
