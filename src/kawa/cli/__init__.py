"""kawa.cli."""
