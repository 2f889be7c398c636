"""The publisher's LMDB store: the only user of lmdb (:mod:`ledger.store.store`), its row layout
and its writer lock. This package itself loads no lmdb: :mod:`ledger.store.layout` is pure."""
