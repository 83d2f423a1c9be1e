"""kawa.apis."""
