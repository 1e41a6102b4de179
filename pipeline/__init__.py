"""Stream processing: Faust agents that enrich raw events and keep client histories in Redis."""
