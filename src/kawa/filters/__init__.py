"""kawa.filters."""
