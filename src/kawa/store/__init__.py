"""kawa.store."""
