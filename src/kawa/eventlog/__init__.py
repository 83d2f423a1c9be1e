"""kawa.eventlog."""
