"""Hand-run performance benchmarks for Anymail's requests-based backends.

Run all of them with ``make bench`` (``python -m bench.run``). They are never part
of the test suite. Each benchmark module has a ``run(...)`` function returning
:class:`bench.common.Result` rows, which :mod:`bench.run` prints as one table.

- :mod:`bench.cpu`: library CPU per message, with the HTTP call stubbed out.
- :mod:`bench.send_vs_raw`: send time through a backend over one keep-alive
  connection, against a raw ``requests.Session`` posting the same request.
- :mod:`bench.memory`: peak memory growth sending one 20 MB attachment.
"""
