"""The schemas and indexes of a Milvus store's collections (see `milvus_store`), and the
dense index types a store may be built with."""

from typing import Any

# Milvus wants a vector field in every collection; the terms and manifest collections
# hold this one (the documents hold their mean chunk vectors).
PLACEHOLDER = [0.0, 0.0]
TEXT_LENGTH = 65_535  # bytes, Milvus' largest VARCHAR
PATH_LENGTH = 4_096
# The dense index types a store may be built with, and their build parameters. FLAT is
# exact search: the answers equal the embedded index's flat FAISS (the default). The
# others are approximate, for a Milvus holding millions of chunks (docs/scale-out.md);
# milvus-lite builds FLAT, HNSW, IVF_FLAT and IVF_SQ8 itself (with faiss), and AUTOINDEX
# is the server's choice. Vectors are unit length: inner product is cosine.
DENSE_INDEXES: dict[str, dict[str, int]] = {
    "FLAT": {}, "HNSW": {"M": 16, "efConstruction": 200},
    "IVF_FLAT": {"nlist": 128}, "IVF_SQ8": {"nlist": 128}, "AUTOINDEX": {}}
DEFAULT_DENSE_INDEX = "FLAT"
# Search-time breadth of the approximate indexes: HNSW's `ef` (at least the number of
# hits asked for) and the IVF cells probed.
HNSW_EF = 128
IVF_NPROBE = 16


def dense_index(index_type: str) -> dict[str, Any]:
    """The index parameters of the dense field for `index_type`.

    Raises:
        ValueError: not one of DENSE_INDEXES.
    """
    if index_type not in DENSE_INDEXES:
        raise ValueError(f"Unknown Milvus dense index {index_type!r}; use one of "
                         f"{', '.join(DENSE_INDEXES)}.")
    return {"index_type": index_type, "metric_type": "IP",
            "params": dict(DENSE_INDEXES[index_type])}


def dense_search_params(index_type: str, limit: int) -> dict[str, Any]:
    """The search parameters of a dense search for `limit` hits on `index_type`."""
    params: dict[str, Any] = {}
    if index_type == "HNSW":
        params["ef"] = max(HNSW_EF, limit)
    elif index_type.startswith("IVF_"):
        params["nprobe"] = IVF_NPROBE
    return {"metric_type": "IP", "params": params}


def create_manifest(client: Any, name: str) -> None:
    """Create (loaded) the manifest collection `name` if it is not there: the committed
    state and the sync leases."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("state", DataType.VARCHAR, max_length=TEXT_LENGTH)
    schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
    params = client.prepare_index_params()
    params.add_index("placeholder", index_type="FLAT", metric_type="L2")
    if not client.has_collection(name):
        client.create_collection(name, schema=schema, index_params=params,
                                 consistency_level="Strong")


def create_collections(client: Any, name: str, dimension: int, index_type: str) -> None:
    """Create and load the chunk, document and term collections of one build (`name`,
    `name`_documents, `name`_terms) that are not there yet; the dense index `index_type`.
    """
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
        ("file_type", DataType.VARCHAR, {"max_length": 64}),
        ("content_hash", DataType.VARCHAR, {"max_length": 64}), ("size", DataType.INT64, {}),
        ("mtime", DataType.DOUBLE, {}), ("title", DataType.VARCHAR, text),
        ("format", DataType.VARCHAR, {"max_length": 64}),
        ("status", DataType.VARCHAR, {"max_length": 16}), ("error", DataType.VARCHAR, text),
        ("indexed_at", DataType.DOUBLE, {}), *versioned,
        ("mean", DataType.FLOAT_VECTOR, {"dim": dimension}),
        ("whole_lexical", DataType.SPARSE_FLOAT_VECTOR, {}),
        ("whole_length", DataType.INT64, {}))
    terms = schema(("dimension", DataType.INT64, {}), ("frequency", DataType.INT64, {}),
                   *versioned, *placeholder)
    chunk_indexes = [("dense", dense_index(index_type)),
                     ("lexical", {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP"}),
                     ("native_bm25", {"index_type": "SPARSE_INVERTED_INDEX",
                                      "metric_type": "BM25"})]
    document_indexes = [("mean", {"index_type": "FLAT", "metric_type": "IP"}),
                        ("whole_lexical", {"index_type": "SPARSE_INVERTED_INDEX",
                                           "metric_type": "IP"})]
    placeholder_index = [("placeholder", {"index_type": "FLAT", "metric_type": "L2"})]
    for collection, made, indexes in [
            (name, chunks, chunk_indexes), (f"{name}_documents", documents, document_indexes),
            (f"{name}_terms", terms, placeholder_index)]:
        if client.has_collection(collection):
            continue
        params = client.prepare_index_params()
        for field_name, index in indexes:
            params.add_index(field_name, **index)
        client.create_collection(collection, schema=made, index_params=params,
                                 consistency_level="Strong")
