"""GraphQL console benchmark (see __main__)."""
