"""Request examples of every POST operation, shown by /docs ("Try it out").

Each is valid for its schema and answers with results on the sample corpus (`corpus/`,
indexed with the default model); tests/test_conventions.py posts every one of them.
"""

from fastapi.openapi.models import Example

QUERY = "how do I brew green tea"

SEARCH: dict[str, Example] = {
    "hybrid": {"summary": "hybrid search", "value": {"query": QUERY, "k": 5}},
    "filtered": {"summary": "dense, Markdown and HTML pages only",
                 "value": {"query": "why do bike chains wear out", "k": 3, "mode": "dense",
                           "filters": {"file_types": ["md", "htm"]}}},
}
SEARCH_BATCH: dict[str, Example] = {
    "two queries": {"value": {"queries": [QUERY, "why do bike chains wear out"], "k": 3}},
}
INDEX: dict[str, Example] = {
    "the index's folder": {"summary": "sync the folder the index was built from (admin key)",
                           "value": {}},
}
CONTEXT: dict[str, Example] = {
    "question": {"value": {"question": "How long do I leave coffee in a French press?",
                           "k": 5, "token_budget": 800}},
}
EMBED: dict[str, Example] = {
    "semsearch": {"summary": "{texts} -> {model, dimension, embeddings}",
                  "value": {"texts": [QUERY, "Steep green tea at 80 °C for two minutes."]}},
    "tei": {"summary": "Text Embeddings Inference: {inputs} -> [[...]]",
            "value": {"inputs": QUERY, "truncate": True}},
}
SIMILARITY: dict[str, Example] = {
    "a and b": {"value": {"a": "How do I fix a flat bike tyre?",
                          "b": "Repairing a punctured bicycle wheel"}},
    "pairs": {"value": {"pairs": [["cat", "dog"], ["a car", "an automobile"]]}},
    "matrix": {"value": {"queries": ["bread recipe", "bike repair"],
                         "documents": ["sourdough starter", "patch the inner tube"]}},
}
CLASSIFY: dict[str, Example] = {
    "zero-shot": {"value": {"texts": ["The striker scored twice in the derby."],
                            "labels": ["sports", "politics", "cooking"]}},
    "few-shot": {"value": {"texts": ["Preheat the oven and grease the tin."],
                           "labels": {"sports": ["a tennis final", "the marathon runners"],
                                      "cooking": ["simmer the sauce", "knead the dough"]}}},
}
OPENAI_EMBEDDINGS: dict[str, Example] = {
    "floats": {"value": {"input": [QUERY, "semantic search"], "model": "all-MiniLM-L6-v2",
                         "encoding_format": "float"}},
}
RERANK_DOCUMENTS = ["Steep green tea at about 80 °C for two to three minutes.",
                    "Replace a bicycle chain once it has stretched.",
                    "Brew coffee in a French press for four minutes."]
RERANK: dict[str, Example] = {
    "cohere": {"summary": "Cohere / Jina: {query, documents} -> {results, model, scorer}",
               "value": {"query": QUERY, "documents": RERANK_DOCUMENTS, "top_n": 2,
                         "return_documents": True}},
    "tei": {"summary": "Text Embeddings Inference: {query, texts} -> [{index, score}]",
            "value": {"query": QUERY, "texts": RERANK_DOCUMENTS, "return_text": True}},
}
