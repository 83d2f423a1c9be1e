"""The composition root: builds and runs everything for ``kawa up``."""
