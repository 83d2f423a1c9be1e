"""kawa.broker."""
