"""How events enter Touchline: the ingest API, source adapters and the Kafka publisher."""
