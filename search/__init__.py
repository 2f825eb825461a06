"""Answer queries from an index directory: dense, lexical, hybrid, reranked."""
