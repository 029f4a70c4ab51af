"""Run ``cms-graph`` with a sketch of cached GraphQL parsing and validation.

The schema that ``cms_graph.graphql.schema.build_schema`` returns validates every request
again, because its QueryDepthLimiter is built per request and so brings a new rule class
each time, which keeps strawberry's ValidationCache (0.341.2) from ever finding an entry.
This sketch builds the depth-limit rule once, adds it to each request with
AddValidationRules, and adds ParserCache and ValidationCache. The other extensions stay as
they are. bench/complaints_page.py starts the server through this file with ``--sketch``.

    .venv/bin/python bench/serve_cached_validation.py serve --host 127.0.0.1 --port 8000
"""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from cms_graph.graphql import schema as schema_module

CACHE_SIZE = 100  # distinct query texts kept, per cache
original_build_schema = schema_module.build_schema


def build_schema(*, production: bool = False) -> strawberry.Schema:
    schema = original_build_schema(production=production)
    depth_rule = QueryDepthLimiter(max_depth=schema_module.MAX_QUERY_DEPTH).validation_rules[0]
    extensions = [
        extension
        for extension in schema.extensions
        if not isinstance(_instance_of(extension), QueryDepthLimiter)
    ]
    schema.extensions = (
        *extensions,
        lambda: AddValidationRules([depth_rule]),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
    )
    return schema


def _instance_of(extension: object) -> object:
    """Return the extension object that a schema entry (class, factory or instance) makes."""
    return extension() if callable(extension) else extension


if __name__ == "__main__":
    # web.py imports build_schema by name, so patch it before the CLI imports web.py.
    schema_module.build_schema = build_schema
    from cms_graph.cli import main

    main()
