"""Adapters of `semsearch.client` to other frameworks, each behind its own extra.

`semsearch.integrations.langchain` (extra `langchain`): `SemsearchRetriever`, a LangChain
retriever; `semsearch.integrations.llama_index` (extra `llama_index`): a LlamaIndex one.
They talk to a running `semsearch serve` over HTTP and load no model themselves.
"""
