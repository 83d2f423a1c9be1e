"""kawa's web console (``kawa console``): static pages served by kawa on its HTTPS API port,
drawing the Kubernetes-compatible API's lists, plus a server-sent-events endpoint of each
broker's live events (docs/observability.md, "Web console")."""
