"""Turn a folder of documents into a self-describing index directory."""
