"""kawa.controllers."""
