"""kawa.cesql."""
