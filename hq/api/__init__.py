"""The GraphQL API: types, resolvers, context and error mapping (Strawberry on FastAPI)."""
