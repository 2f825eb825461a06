"""Whole documents in a Milvus store: the evidence the embedded index keeps in
`documents_fts` and `document_vectors` (`indexer.whole_documents`), held on each
document's row of the `_documents` collection.

A row holds the mean of its document's chunk vectors and the BM25 sparse vector and
length of its whole text (`milvus_lexical`: the same terms and stored weights as a
chunk's, over the text `whole_documents.whole_text` gives, with a reference length of
its own). Like a chunk's, what a row stores depends on its document alone. The document
frequency of each term over whole documents is counted in the `_terms` collection at
dimension + `DOCUMENT_TERMS`, and the manifest row holds the number of indexed documents
and their summed lengths: with them, readers score a document as FTS5 scores
`documents_fts` (`search.milvus_documents`).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from semsearch.indexer.lexical_text import segment
from semsearch.indexer.milvus_lexical import SparseVector, lexical_rows
from semsearch.indexer.whole_documents import ChunkSpan, mean_vector, whole_text

# Whole-document frequencies live in the `_terms` collection beside the chunks', their
# dimensions shifted past the 32-bit ones of chunk terms.
DOCUMENT_TERMS = 2**32
# The length in terms a document's stored weights are normalised with (a chunk's is its
# chunk size): a fixed value, so that a row does not depend on the collection; readers
# rescore with the real mean length.
DOCUMENT_REFERENCE_LENGTH = 1_000.0
# Milvus refuses a sparse vector without a weight: a row without terms (a skipped file,
# a text of no words) holds this one, with length 0, which readers and counts skip.
NO_TERMS: SparseVector = {0: 1e-30}


@dataclass(frozen=True)
class WholeDocument:
    """What a document's evidence is made of: its title, its chunks' (text, start, end)
    in order, the mean of their vectors."""

    title: str
    spans: list[ChunkSpan]
    mean: list[float]


def whole_document(title: str, chunks: list[dict[str, Any]]) -> WholeDocument:
    """The makings of a document's evidence from its chunk rows (`text`, `start`, `end`,
    `dense`), in order: the mean as the embedded index takes it (`mean_vector`).
    """
    vectors = np.asarray([row["dense"] for row in chunks], dtype=np.float32)
    return WholeDocument(title, [(row["text"], row["start"], row["end"]) for row in chunks],
                         mean_vector(vectors).tolist())


def evidence_fields(documents: list[WholeDocument | None], dimension: int,
                    reference_length: float) -> list[dict[str, Any]]:
    """The evidence fields (`mean`, `whole_lexical`, `whole_length`) of each document
    row; None for a row without chunks (zeros and `NO_TERMS`)."""
    held = [document for document in documents if document is not None]
    lexical = iter(lexical_rows([(segment(d.title), segment(whole_text(d.spans)))
                                 for d in held], reference_length))
    fields = []
    for document in documents:
        if document is None:
            fields.append({"mean": [0.0] * dimension, "whole_lexical": NO_TERMS,
                           "whole_length": 0})
            continue
        row = next(lexical)
        fields.append({"mean": document.mean, "whole_lexical": row.weights or NO_TERMS,
                       "whole_length": row.length})
    return fields


def document_terms(row: dict[str, Any]) -> Iterable[int]:
    """The `_terms` dimensions a document row counts in (none without terms)."""
    if not row["whole_length"]:
        return ()
    return (DOCUMENT_TERMS + dimension for dimension in row["whole_lexical"])
