"""Developer and test tooling: not part of the runtime packages (nothing in ``touchline``,
``pipeline``, ``producers`` or ``sinks`` imports it, and it is not installed with them)."""
