"""Where a log's bytes come from: a published directory, ``http(s)://``, or a ledger directory
(:mod:`ledger.sources.ledger_dir`, the one lazy edge to :mod:`ledger.store`)."""
