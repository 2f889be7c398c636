"""The national log's writer (docs/spec.md, "One log per county under a national log"): the
``log`` records that register county logs and the ``checkpoint`` records of their signed
checkpoints, appended and sealed through the publisher's
:class:`~ledger.publisher.ledger.Ledger`; the rules themselves are the one checker's
(:mod:`ledger.check.national`) and the audit is :mod:`ledger.auditor.national`'s."""
