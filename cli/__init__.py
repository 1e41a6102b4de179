"""The composition root: the ``touchline`` command line and the demo. It starts the apps
(``pipeline``, ``producers``, ``sinks``) and the local stack (``touchline.services``); nothing
imports it, and the core package ``touchline`` imports none of them."""
