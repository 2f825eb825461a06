"""The schemas and indexes of a Milvus store's four collections (see `milvus_store`)."""

from typing import Any

# Milvus wants a vector field in every collection; the companions hold this one.
PLACEHOLDER = [0.0, 0.0]
TEXT_LENGTH = 65_535  # bytes, Milvus' largest VARCHAR
PATH_LENGTH = 4_096
# Exact search: the answers equal the embedded index's flat FAISS. A Milvus Distributed
# deployment past a few million chunks would choose HNSW here (docs/scale-out.md).
DENSE_INDEX = {"index_type": "FLAT", "metric_type": "IP"}


def create_collections(client: Any, name: str, dimension: int) -> None:
    """Create and load the collections of the store `name` that are not there yet."""
    from pymilvus import DataType, Function, FunctionType

    def schema(*fields: tuple[str, Any, dict[str, Any]]) -> Any:
        made = client.create_schema(auto_id=False, enable_dynamic_field=False)
        made.add_field("pk", DataType.INT64, is_primary=True)
        for field_name, kind, options in fields:
            made.add_field(field_name, kind, **options)
        return made

    text: dict[str, Any] = {"max_length": TEXT_LENGTH}
    versioned: list[tuple[str, Any, dict[str, Any]]] = [
        ("generation", DataType.INT64, {}), ("retired", DataType.INT64, {})]
    placeholder: list[tuple[str, Any, dict[str, Any]]] = [
        ("placeholder", DataType.FLOAT_VECTOR, {"dim": len(PLACEHOLDER)})]
    chunks = schema(
        ("doc_id", DataType.INT64, {}), ("path", DataType.VARCHAR, {"max_length": PATH_LENGTH}),
        ("file_type", DataType.VARCHAR, {"max_length": 64}),
        ("content_hash", DataType.VARCHAR, {"max_length": 64}),
        ("mtime", DataType.DOUBLE, {}), ("ordinal", DataType.INT64, {}),
        ("title", DataType.VARCHAR, text), ("format", DataType.VARCHAR, {"max_length": 64}),
        ("text", DataType.VARCHAR, text), ("start", DataType.INT64, {}),
        ("end", DataType.INT64, {}), ("page", DataType.INT64, {}),
        ("page_breaks", DataType.VARCHAR, text), ("headings", DataType.VARCHAR, text),
        ("token_count", DataType.INT64, {}), *versioned,
        ("dense", DataType.FLOAT_VECTOR, {"dim": dimension}),
        ("lexical", DataType.SPARSE_FLOAT_VECTOR, {}),
        ("lexical_length", DataType.INT64, {}),
        ("lexical_text", DataType.VARCHAR, {**text, "enable_analyzer": True}),
        ("native_bm25", DataType.SPARSE_FLOAT_VECTOR, {}))
    chunks.add_function(Function(name="native_bm25", function_type=FunctionType.BM25,
                                 input_field_names=["lexical_text"],
                                 output_field_names=["native_bm25"]))
    documents = schema(
        ("doc_id", DataType.INT64, {}), ("path", DataType.VARCHAR, {"max_length": PATH_LENGTH}),
        ("content_hash", DataType.VARCHAR, {"max_length": 64}), ("size", DataType.INT64, {}),
        ("mtime", DataType.DOUBLE, {}), ("title", DataType.VARCHAR, text),
        ("format", DataType.VARCHAR, {"max_length": 64}),
        ("status", DataType.VARCHAR, {"max_length": 16}), ("error", DataType.VARCHAR, text),
        ("indexed_at", DataType.DOUBLE, {}), *versioned, *placeholder)
    terms = schema(("dimension", DataType.INT64, {}), ("frequency", DataType.INT64, {}),
                   *versioned, *placeholder)
    manifest = schema(("state", DataType.VARCHAR, text), *placeholder)
    chunk_indexes = [("dense", DENSE_INDEX),
                     ("lexical", {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP"}),
                     ("native_bm25", {"index_type": "SPARSE_INVERTED_INDEX",
                                      "metric_type": "BM25"})]
    placeholder_index = [("placeholder", {"index_type": "FLAT", "metric_type": "L2"})]
    for collection, made, indexes in [
            (name, chunks, chunk_indexes), (f"{name}_documents", documents, placeholder_index),
            (f"{name}_terms", terms, placeholder_index),
            (f"{name}_manifest", manifest, placeholder_index)]:
        if client.has_collection(collection):
            continue
        params = client.prepare_index_params()
        for field_name, index in indexes:
            params.add_index(field_name, **index)
        client.create_collection(collection, schema=made, index_params=params,
                                 consistency_level="Strong")
