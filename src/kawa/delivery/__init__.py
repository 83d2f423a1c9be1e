"""kawa.delivery."""
