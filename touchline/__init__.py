"""Touchline core: settings, contracts, validation, wire codec, topics, local services, CLI."""
