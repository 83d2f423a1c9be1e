"""kawa.apiserver."""
