"""kawa.observability."""
